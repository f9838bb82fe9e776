#pragma once
// The clocks and the latency histogram of bench/load_client.
#include <time.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace load_client {

using nanos = std::int64_t;

inline nanos now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return nanos{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline nanos cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return nanos{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// Latency histogram with under 0.8% relative error: values below 256 ns exactly, above that
/// 128 linear sub-buckets per power of two (the HdrHistogram layout).
class histogram {
 public:
  histogram() : counts_(256 + 56 * 128, 0) {}

  void record(nanos v) {
    if (v < 0) v = 0;
    ++counts_[index(static_cast<std::uint64_t>(v))];
    ++total_;
    sum_ += v;
    max_ = std::max(max_, v);
  }

  void reset() {
    std::fill(counts_.begin(), counts_.end(), 0);
    total_ = 0;
    sum_ = 0;
    max_ = 0;
  }

  std::uint64_t count() const { return total_; }
  nanos max() const { return max_; }
  double mean() const { return total_ ? static_cast<double>(sum_) / total_ : 0; }

  /// The value at quantile q (0..1), as the middle of its bucket.
  nanos quantile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(middle(i), max_);
    }
    return max_;
  }

 private:
  static std::size_t index(std::uint64_t v) {
    if (v < 256) return v;
    unsigned shift = std::bit_width(v) - 8;  // v >> shift is in [128, 255]
    return 256 + (shift - 1) * 128 + ((v >> shift) - 128);
  }
  static nanos middle(std::size_t i) {
    if (i < 256) return static_cast<nanos>(i);
    std::size_t shift = (i - 256) / 128 + 1;
    std::uint64_t m = (i - 256) % 128 + 128;
    return static_cast<nanos>((m << shift) + (std::uint64_t{1} << shift) / 2);
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  nanos sum_ = 0;
  nanos max_ = 0;
};

}  // namespace load_client
