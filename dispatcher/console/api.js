// The Management API as the console calls it: same origin, the credential (a business key or a
// portal-session token) from sessionStorage only, errors as ApiError with the API's message.

const storeKey = 'tresse.credential';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const credential = {
  get: () => sessionStorage.getItem(storeKey),
  set: (v) => sessionStorage.setItem(storeKey, v),
  clear: () => sessionStorage.removeItem(storeKey),
  isSession: () => (sessionStorage.getItem(storeKey) || '').startsWith('ps_'),
};

// A business key as the API accepts it (keys.cpp: looks_like_business_key).
export function looksLikeKey(text) {
  return /^sk_(live|test)_[A-Za-z0-9]{32}$/.test(text);
}

// `token`: another credential than the tab's (the operators' view passes its own).
export async function call(method, path, body, token = credential.get()) {
  const headers = {Authorization: 'Bearer ' + token};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (e) {
    throw new ApiError(0, 'network', 'The dispatcher could not be reached: ' + e.message);
  }
  let json = null;
  try { json = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const err = json && json.error;
    throw new ApiError(res.status, err ? err.code : 'http_' + res.status,
                       err ? err.message : 'HTTP ' + res.status);
  }
  return json;
}

// Every item of a paginated list (following next_cursor), at most `max`.
export async function all(path, max = 1000) {
  const out = [];
  let cursor = null;
  const sep = path.includes('?') ? '&' : '?';
  while (out.length < max) {
    const page = await call('GET', path + sep + 'limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    out.push(...page.data);
    if (!page.has_more) break;
    cursor = page.next_cursor;
  }
  return out;
}

export const enc = encodeURIComponent;
