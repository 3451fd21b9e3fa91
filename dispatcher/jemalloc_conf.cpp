// jemalloc's settings for tresse-dispatcher, read by jemalloc at start (the MALLOC_CONF
// environment variable still overrides them). Linked only with jemalloc (TRESSE_JEMALLOC).
//
// - background_thread: freed pages go back to the kernel from jemalloc's own thread, not in
//   the delivery threads' free() calls.
// - dirty_decay_ms 1000, muzzy_decay_ms 0: within about a second, and at once past dirty.
//   With the defaults (10 s), a backlog of 10 000 pending deliveries peaked at 164–174 MB of
//   RSS, with these at 141 MB (bench/README.md); decay 0 gave 139 MB but cost a madvise per
//   delivery.
extern "C" {
// NOLINTNEXTLINE: the name and type jemalloc looks up.
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
