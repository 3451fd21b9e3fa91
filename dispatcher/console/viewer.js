// What the pages need to know about the caller, set once at log-in (app.js).
export const viewer = {readOnly: false, livemode: true, session: false};
