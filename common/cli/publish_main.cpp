// tresse-publish: puts events on Kafka the way the Tresse platform does.
//
//   tresse-publish --brokers B [--topic T] --type appointment.created --business biz_1
//                  [--data '{"id":"apt_1"}'] [--id evt_1] [--test-mode] [--validate]
//   tresse-publish --brokers B [--file events.jsonl]     (JSON lines; stdin without --file)
//   tresse-publish --brokers B --count 10000 [--rate 500] [--businesses 20]
//
// Bad events are refused with the reason (good ones are still sent); the exit status is 0 only
// when every event was acknowledged by Kafka, 1 otherwise, 2 for usage errors.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tresse/cli/program.hpp"
#include "tresse/common/publisher.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
namespace events = tresse::events;

struct options {
  std::string brokers;
  std::string topic = std::string(tresse::kafka::default_events_topic);
  std::string type, business, data = "{}", id, file;
  bool test_mode = false;
  bool validate = false;
  std::optional<std::uint64_t> count;
  double rate = 0;  // events per second, 0: as fast as possible
  std::uint64_t businesses = 10;
  std::uint64_t timeout_s = 30;
};

// The flags, into `o`: one event, JSON lines (a file or stdin), or synthetic load.
void add_flags(CLI::App& app, options& o) {
  app.footer(
      "One event (--type, --business), JSON lines from --file (\"-\" or none: stdin), or\n"
      "--count synthetic appointment events. Bad events are refused with the reason (good ones\n"
      "are still sent). Exit status: 0 when Kafka acknowledged every event, 1 otherwise, 2 for\n"
      "bad usage.");
  app.add_option("--brokers", o.brokers, "Kafka bootstrap servers, HOST:PORT[,...]")
      ->required()
      ->type_name("HOST:PORT");
  app.add_option("--topic", o.topic, "topic to publish to")->capture_default_str();
  app.add_option("--type", o.type, "event type of the one event, e.g. appointment.created");
  app.add_option("--business", o.business,
                 "business id of the one event (of every synthetic one with --count)")
      ->type_name("ID");
  app.add_option("--data", o.data, "the event's data object")
      ->type_name("JSON")
      ->capture_default_str();
  app.add_option("--id", o.id, "the event id (default: a new evt_ id)");
  app.add_flag("--test-mode", o.test_mode, "livemode false (a sk_test_ business)");
  app.add_flag("--validate", o.validate,
               "refuse events whose data does not match their type's JSON Schema (the event "
               "catalog, GET /v1/event_types), naming the field");
  app.add_option("--file", o.file, "JSON lines to publish, one event each (\"-\": stdin)")
      ->type_name("FILE");
  app.add_option("--count", o.count, "publish N synthetic appointment events")->type_name("N");
  app.add_option("--rate", o.rate, "synthetic events per second (0: as fast as possible)")
      ->check(tresse::cli::non_negative())
      ->capture_default_str();
  app.add_option("--businesses", o.businesses, "synthetic events spread over K businesses")
      ->check(tresse::cli::positive())
      ->type_name("K")
      ->capture_default_str();
  app.add_option("--timeout", o.timeout_s,
                 "seconds to wait for Kafka's acknowledgements at the end")
      ->type_name("SECONDS")
      ->capture_default_str();
}

// Counts and the periodic progress line for long runs.
class progress {
 public:
  progress(const events::publisher& pub, std::optional<std::uint64_t> total)
      : pub_(pub), total_(total) {}

  void tick(std::uint64_t sent) {
    auto now = clock_type::now();
    if (now - last_ < 1s) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    auto c = pub_.counts();
    std::fprintf(stderr, "progress: %llu%s sent, %llu acknowledged, %llu failed, %.0f/s\n",
                 static_cast<unsigned long long>(sent),
                 total_ ? ("/" + std::to_string(*total_)).c_str() : "",
                 static_cast<unsigned long long>(c.delivered),
                 static_cast<unsigned long long>(c.failed), secs > 0 ? sent / secs : 0.0);
  }

 private:
  const events::publisher& pub_;
  std::optional<std::uint64_t> total_;
  clock_type::time_point start_ = clock_type::now(), last_ = clock_type::now();
};

// Paces a loop at `rate` per second (0: no pacing) without drifting.
void pace(double rate, clock_type::time_point start, std::uint64_t i) {
  if (rate <= 0) return;
  std::this_thread::sleep_until(start + std::chrono::duration_cast<clock_type::duration>(
                                            std::chrono::duration<double>(i / rate)));
}

std::uint64_t publish_lines(events::publisher& pub, std::istream& in, std::uint64_t& refused) {
  // Reads at most max+1 bytes of a line: a longer one is refused without being held whole.
  std::vector<char> buf(events::default_max_bytes + 2);
  std::uint64_t sent = 0, line_no = 0;
  progress prog(pub, std::nullopt);
  while (true) {
    in.getline(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize got = in.gcount();
    if (got == 0 && in.eof()) break;
    ++line_no;
    bool too_long = false;
    std::size_t length = static_cast<std::size_t>(got);
    if (in.fail() && !in.eof()) {  // the buffer filled up before the newline
      in.clear();
      in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
      too_long = true;
    } else if (!in.eof()) {
      --length;  // gcount counted the newline
    }
    std::string_view line(buf.data(), length);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() && !too_long) {
      if (in.eof()) break;
      continue;
    }
    if (too_long) {
      ++refused;
      std::cerr << "line " << line_no << ": refused: event is more than the limit of "
                << events::default_max_bytes << " bytes\n";
    } else if (auto ev = pub.publish(line); !ev) {
      ++refused;
      // One write per line, so that librdkafka's log lines (its own thread) never split it.
      std::cerr << ("line " + std::to_string(line_no) + ": refused: " + ev.error().message + "\n");
    } else {
      ++sent;
    }
    prog.tick(sent);
    if (in.eof()) break;
  }
  return sent;
}

std::uint64_t publish_synthetic(events::publisher& pub, const options& o, std::uint64_t& refused) {
  static constexpr std::string_view types[] = {"appointment.created",     "appointment.updated",
                                               "appointment.rescheduled", "appointment.canceled",
                                               "appointment.completed",   "appointment.no_show"};
  static constexpr std::string_view statuses[] = {"confirmed", "confirmed", "confirmed",
                                                  "canceled",  "completed", "no_show"};
  std::mt19937_64 rng(std::random_device{}());
  auto start = clock_type::now();
  progress prog(pub, o.count);
  std::uint64_t sent = 0;
  for (std::uint64_t i = 0; i < *o.count; ++i) {
    pace(o.rate, start, i);
    std::size_t t = rng() % std::size(types);
    char business[32], appointment[32], client[32];
    std::snprintf(business, sizeof business, "biz_synth_%04llu",
                  static_cast<unsigned long long>(rng() % o.businesses));
    std::snprintf(appointment, sizeof appointment, "apt_%012llx",
                  static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
    std::snprintf(client, sizeof client, "cli_%08llx",
                  static_cast<unsigned long long>(rng() & 0xffffffffULL));
    std::string data =
        std::string(R"({"id":")") + appointment + R"(","status":")" + std::string(statuses[t]) +
        R"(","client_id":")" + client +
        R"(","service_id":"svc_hair_color","staff_id":"stf_maria",)"
        R"("starts_at":"2026-04-22T14:00:00-04:00","ends_at":"2026-04-22T15:30:00-04:00",)"
        R"("duration_minutes":90,"price_cents":18500,"created_at":"2026-04-19T10:32:00Z"})";
    auto ev = events::make_event({.type = std::string(types[t]),
                                  .business_id = o.business.empty() ? business : o.business,
                                  .data_json = std::move(data),
                                  .livemode = !o.test_mode});
    if (!ev) {
      ++refused;
      std::cerr << "refused: " << ev.error().message << "\n";
    } else if (auto st = pub.publish(*ev); !st) {
      std::cerr << "not sent: " << st.error().message << "\n";
      break;
    } else {
      ++sent;
    }
    prog.tick(sent);
  }
  return sent;
}

}  // namespace

int publish(const options* o) {
  auto pub = events::publisher::create(
      {.brokers = o->brokers, .topic = o->topic, .validate_data = o->validate});
  if (!pub) {
    std::cerr << "tresse-publish: " << pub.error().message << "\n";
    return 2;
  }
  std::uint64_t refused = 0;
  if (o->count) {
    publish_synthetic(**pub, *o, refused);
  } else if (!o->type.empty() || !o->business.empty()) {
    auto ev = events::make_event({.type = o->type,
                                  .business_id = o->business,
                                  .data_json = o->data,
                                  .id = o->id,
                                  .livemode = !o->test_mode});
    if (!ev) {
      ++refused;
      std::cerr << "refused: " << ev.error().message << "\n";
    } else if (auto st = (*pub)->publish(*ev); !st) {
      // Permanent: the event itself was refused (--validate); else Kafka did not take it.
      const bool bad = st.error().kind == tresse::error_kind::permanent;
      refused += bad ? 1 : 0;
      std::cerr << (bad ? "refused: " : "not sent: ") << st.error().message << "\n";
    } else {
      std::cout << ev->id << "\n";  // so scripts can follow the event
    }
  } else if (o->file.empty() || o->file == "-") {
    publish_lines(**pub, std::cin, refused);
  } else {
    std::ifstream in(o->file, std::ios::binary);
    if (!in) {
      std::cerr << "tresse-publish: cannot open " << o->file << "\n";
      return 2;
    }
    publish_lines(**pub, in, refused);
  }

  auto flushed = (*pub)->flush(std::chrono::seconds(o->timeout_s));
  auto c = (*pub)->counts();
  std::uint64_t unacknowledged = c.enqueued - c.delivered - c.failed;
  if (!flushed) std::cerr << "tresse-publish: " << flushed.error().message << "\n";
  std::cout << c.delivered << " published, " << refused << " refused, " << c.failed + unacknowledged
            << " failed\n";
  return refused == 0 && c.failed == 0 && unacknowledged == 0 && flushed ? 0 : 1;
}

int main(int argc, char** argv) {
  tresse::cli::program program("tresse-publish", "Put well-formed Tresse events on Kafka.");
  options o;
  add_flags(program.app(), o);
  program.action([&o] { return publish(&o); });
  return program.main(argc, argv);
}
