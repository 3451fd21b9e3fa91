// An io_context whose pending work (handlers, and the coroutine frames they own) can be
// destroyed, unrun, before its owner's other members: ~io_context does it only after them, when
// those frames may still refer to what is gone. Call discard_pending() once the context's
// threads stopped and nothing else posts to it (a post racing it is undefined: Asio empties
// its queue unlocked). I/O objects bound to it may be destroyed afterwards.
#pragma once

#include <boost/asio/io_context.hpp>

namespace tresse {

class discardable_io_context : public boost::asio::io_context {
 public:
  using io_context::io_context;
  // execution_context::shutdown() is protected; ~io_context runs it again, a no-op by then.
  void discard_pending() { shutdown(); }
};

}  // namespace tresse
