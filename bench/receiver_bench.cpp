// Receiver verify cost against raw OpenSSL on the same signed content
// (`id "." timestamp "." body`), for 256 B, 1 KiB and 64 KiB bodies, on one thread.
//
//   BM_Verify/<size>              verifier::verify with one HMAC key (v1)
//   BM_RawHmac/<method>/<size>    HMAC-SHA256 alone, pre-keyed, three ways; the fastest is the
//                                 baseline: evp_mac_dup  (EVP_MAC_CTX_dup + update + final)
//                                           evp_mac_reinit (EVP_MAC_init(NULL key) on one ctx)
//                                           hmac_ctx   (legacy HMAC_Init_ex(NULL key) on one ctx)
//   BM_VerifyEd25519/<size>       verifier::verify with one Ed25519 public key (v1a)
//   BM_RawEd25519/<method>/<size> EVP_DigestVerify of the pre-joined message: new_ctx / reuse_ctx
//
// After the runs it prints, per size, raw time / verify time (100 % = as fast as raw OpenSSL),
// from the minimum CPU time over repetitions (robust on a shared machine).
#define OPENSSL_SUPPRESS_DEPRECATED  // the legacy HMAC_CTX path is part of an honest baseline

#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tresse/receiver/sign.hpp"
#include "tresse/receiver/verify.hpp"

namespace {

using namespace tresse;

constexpr std::string_view hmac_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view webhook_id = "evt_2Hq9x7LmQ";
const std::vector<std::int64_t> sizes = {256, 1024, 64 * 1024};

std::string make_body(std::size_t size) {
  std::string body = R"({"id":"evt_2Hq9x7LmQ","type":"appointment.created","data":{"notes":")";
  while (body.size() + 3 < size) body += static_cast<char>('a' + body.size() % 26);
  body += "\"}}";
  body.resize(size, ' ');
  return body;
}

struct signed_message {
  std::string id{webhook_id};
  std::string timestamp;
  std::string body;
  std::string signature;
  std::string joined;  // id.timestamp.body
};

signed_message make_message(const receiver::key& k, std::size_t size) {
  signed_message m;
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  m.timestamp = std::to_string(now);
  m.body = make_body(size);
  std::error_code ec;
  m.signature = receiver::sign(k, m.id, now, m.body, ec);
  if (ec) std::abort();
  m.joined = m.id + "." + m.timestamp + "." + m.body;
  return m;
}

receiver::key parse(std::string_view text) {
  std::error_code ec;
  receiver::key k = receiver::key::parse(text, ec);
  if (ec) std::abort();
  return k;
}

// The raw HMAC key bytes of hmac_secret.
std::vector<unsigned char> raw_hmac_key() {
  const std::string b64(hmac_secret.substr(6));
  std::vector<unsigned char> out(b64.size());
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  out.resize(static_cast<std::size_t>(n) - std::count(b64.begin(), b64.end(), '='));
  return out;
}

void set_bytes(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

void BM_Verify(benchmark::State& state) {
  const receiver::key k = parse(hmac_secret);
  const receiver::verifier v({k});
  const signed_message m = make_message(k, state.range(0));
  for (auto _ : state) {
    auto r = v.verify(m.id, m.timestamp, m.signature, m.body);
    benchmark::DoNotOptimize(r);
    if (!r) state.SkipWithError(r.message.c_str());
  }
  set_bytes(state);
}

struct mac_free {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};
using mac_ptr = std::unique_ptr<EVP_MAC_CTX, mac_free>;

mac_ptr keyed_mac() {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  mac_ptr ctx(EVP_MAC_CTX_new(mac));
  EVP_MAC_free(mac);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_END};
  const auto key = raw_hmac_key();
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) std::abort();
  return ctx;
}

void mac_content(EVP_MAC_CTX* ctx, const signed_message& m, unsigned char* out) {
  const auto update = [&](std::string_view s) {
    EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  };
  update(m.id), update("."), update(m.timestamp), update("."), update(m.body);
  std::size_t size = 0;
  EVP_MAC_final(ctx, out, &size, 32);
}

void BM_RawHmacEvpMacDup(benchmark::State& state) {
  const signed_message m = make_message(parse(hmac_secret), state.range(0));
  const mac_ptr master = keyed_mac();
  unsigned char out[32];
  for (auto _ : state) {
    mac_ptr ctx(EVP_MAC_CTX_dup(master.get()));
    mac_content(ctx.get(), m, out);
    benchmark::DoNotOptimize(out);
  }
  set_bytes(state);
}

void BM_RawHmacEvpMacReinit(benchmark::State& state) {
  const signed_message m = make_message(parse(hmac_secret), state.range(0));
  const mac_ptr ctx = keyed_mac();
  unsigned char out[32];
  for (auto _ : state) {
    EVP_MAC_init(ctx.get(), nullptr, 0, nullptr);
    mac_content(ctx.get(), m, out);
    benchmark::DoNotOptimize(out);
  }
  set_bytes(state);
}

void BM_RawHmacLegacy(benchmark::State& state) {
  const signed_message m = make_message(parse(hmac_secret), state.range(0));
  std::unique_ptr<HMAC_CTX, decltype(&HMAC_CTX_free)> ctx(HMAC_CTX_new(), &HMAC_CTX_free);
  const auto key = raw_hmac_key();
  HMAC_Init_ex(ctx.get(), key.data(), static_cast<int>(key.size()), EVP_sha256(), nullptr);
  unsigned char out[32];
  unsigned int size = 0;
  for (auto _ : state) {
    HMAC_Init_ex(ctx.get(), nullptr, 0, nullptr, nullptr);
    const auto update = [&](std::string_view s) {
      HMAC_Update(ctx.get(), reinterpret_cast<const unsigned char*>(s.data()), s.size());
    };
    update(m.id), update("."), update(m.timestamp), update("."), update(m.body);
    HMAC_Final(ctx.get(), out, &size);
    benchmark::DoNotOptimize(out);
  }
  set_bytes(state);
}

const std::string& ed25519_secret() {
  static const std::string s = receiver::generate_ed25519_keypair().secret_key;
  return s;
}

void BM_VerifyEd25519(benchmark::State& state) {
  const receiver::key secret = parse(ed25519_secret());
  const receiver::verifier v({parse(secret.public_key())});
  const signed_message m = make_message(secret, state.range(0));
  for (auto _ : state) {
    auto r = v.verify(m.id, m.timestamp, m.signature, m.body);
    benchmark::DoNotOptimize(r);
    if (!r) state.SkipWithError(r.message.c_str());
  }
  set_bytes(state);
}

struct ed25519_raw {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey{nullptr, &EVP_PKEY_free};
  unsigned char signature[64];
  signed_message m;
};

ed25519_raw make_ed25519_raw(std::size_t size) {
  const receiver::key secret = parse(ed25519_secret());
  ed25519_raw raw;
  raw.m = make_message(secret, size);
  std::string pub_b64 = secret.public_key().substr(5);
  unsigned char pub[48];
  EVP_DecodeBlock(pub, reinterpret_cast<const unsigned char*>(pub_b64.data()),
                  static_cast<int>(pub_b64.size()));
  raw.pkey.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pub, 32));
  const std::string sig_b64 = raw.m.signature.substr(4);
  unsigned char sig[72];
  EVP_DecodeBlock(sig, reinterpret_cast<const unsigned char*>(sig_b64.data()),
                  static_cast<int>(sig_b64.size()));
  std::copy(sig, sig + 64, raw.signature);
  return raw;
}

bool raw_ed25519_verify(EVP_MD_CTX* ctx, const ed25519_raw& raw) {
  return EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, raw.pkey.get()) == 1 &&
         EVP_DigestVerify(ctx, raw.signature, 64,
                          reinterpret_cast<const unsigned char*>(raw.m.joined.data()),
                          raw.m.joined.size()) == 1;
}

void BM_RawEd25519NewCtx(benchmark::State& state) {
  const ed25519_raw raw = make_ed25519_raw(state.range(0));
  for (auto _ : state) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!raw_ed25519_verify(ctx.get(), raw)) state.SkipWithError("raw Ed25519 verify failed");
  }
  set_bytes(state);
}

void BM_RawEd25519ReuseCtx(benchmark::State& state) {
  const ed25519_raw raw = make_ed25519_raw(state.range(0));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  for (auto _ : state) {
    if (!raw_ed25519_verify(ctx.get(), raw)) state.SkipWithError("raw Ed25519 verify failed");
  }
  set_bytes(state);
}

// Registered by hand so that the names group as "<what>/<method>/<size>".
void register_all() {
  const auto add = [](const char* name, void (*fn)(benchmark::State&)) {
    auto* b = benchmark::RegisterBenchmark(name, fn);
    for (const auto s : sizes) b->Arg(s);
    // A "_min" aggregate, so the summary works with --benchmark_report_aggregates_only too.
    b->ComputeStatistics(
        "min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
  };
  add("BM_Verify", BM_Verify);
  add("BM_RawHmac/evp_mac_dup", BM_RawHmacEvpMacDup);
  add("BM_RawHmac/evp_mac_reinit", BM_RawHmacEvpMacReinit);
  add("BM_RawHmac/hmac_ctx", BM_RawHmacLegacy);
  add("BM_VerifyEd25519", BM_VerifyEd25519);
  add("BM_RawEd25519/new_ctx", BM_RawEd25519NewCtx);
  add("BM_RawEd25519/reuse_ctx", BM_RawEd25519ReuseCtx);
}

// Console output as usual, plus the fastest CPU time per benchmark over its repetitions.
class collecting_reporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const bool min_aggregate = r.run_type == Run::RT_Aggregate && r.aggregate_name == "min";
      if (r.error_occurred || (r.run_type != Run::RT_Iteration && !min_aggregate)) continue;
      const double ns = r.GetAdjustedCPUTime() * multiplier(r.time_unit);
      auto [it, fresh] = best_ns_.try_emplace(r.run_name.str(), ns);
      if (!fresh) it->second = std::min(it->second, ns);
    }
  }
  const std::map<std::string, double>& best_ns() const { return best_ns_; }

 private:
  static double multiplier(benchmark::TimeUnit u) {
    switch (u) {
      case benchmark::kNanosecond:
        return 1;
      case benchmark::kMicrosecond:
        return 1e3;
      case benchmark::kMillisecond:
        return 1e6;
      case benchmark::kSecond:
        return 1e9;
    }
    return 1;
  }
  std::map<std::string, double> best_ns_;
};

// "verify at X % of raw" per size, against the fastest raw method measured.
void print_ratios(const std::map<std::string, double>& best, const std::string& verify,
                  const std::string& raw) {
  for (const auto size : sizes) {
    const auto suffix = "/" + std::to_string(size);
    const auto v = best.find(verify + suffix);
    std::string raw_name;
    double raw_ns = std::numeric_limits<double>::infinity();
    for (const auto& [name, ns] : best) {
      if (name.starts_with(raw + "/") && name.ends_with(suffix) && ns < raw_ns) {
        raw_name = name, raw_ns = ns;
      }
    }
    if (v == best.end() || raw_name.empty()) continue;
    std::printf("%-18s %6lld B  verify %10.0f ns  raw %10.0f ns (%s)  verify/raw speed %5.1f %%\n",
                verify.c_str(), static_cast<long long>(size), v->second, raw_ns, raw_name.c_str(),
                100.0 * raw_ns / v->second);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  collecting_reporter reporter(isatty(STDOUT_FILENO) ? collecting_reporter::OO_ColorTabular
                                                     : collecting_reporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  std::printf("\nverify/raw speed (fastest CPU time of each; 100 %% = raw OpenSSL):\n");
  print_ratios(reporter.best_ns(), "BM_Verify", "BM_RawHmac");
  print_ratios(reporter.best_ns(), "BM_VerifyEd25519", "BM_RawEd25519");
  return 0;
}
