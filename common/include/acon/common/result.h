// Errors as values: every public API that can fail on input returns Result<T>.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace acon {

// Broad classes of failure; callers branch on these, humans read the message.
enum class Errc {
  invalid_argument,  // caller passed something unusable (bad key type, wrong size)
  parse,             // malformed input bytes / text
  unsupported,       // well-formed but an algorithm or feature we do not implement
  crypto,            // the crypto library failed internally
  verify_failed,     // a signature, tag, digest or chain did not verify
  not_found,         // a looked-up item is absent
  expired,           // outside a validity window at the supplied time
  io,                // file or device access failed
};

std::string_view errc_name(Errc code);

struct Error {
  Errc code;
  std::string message;

  // "parse: base64: invalid character at offset 3"
  std::string to_string() const;
  // Prefixes context ("jwe.protected: ") so errors name the field they came from.
  Error wrap(std::string_view context) const& {
    return {code, std::string(context) + ": " + message};
  }
};

inline Error make_error(Errc code, std::string message) { return {code, std::move(message)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_{};
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace acon

#define ACON_CONCAT_INNER(a, b) a##b
#define ACON_CONCAT(a, b) ACON_CONCAT_INNER(a, b)

// ACON_TRY(auto x, f()); binds the value or returns the error from the enclosing function.
#define ACON_TRY(decl, expr) ACON_TRY_IMPL(ACON_CONCAT(acon_try_, __LINE__), decl, expr)
#define ACON_TRY_IMPL(tmp, decl, expr)          \
  auto tmp = (expr);                            \
  if (!tmp.ok()) return std::move(tmp).error(); \
  decl = std::move(tmp).value()

// ACON_CHECK(status_expr); returns the error of a failed Status.
#define ACON_CHECK(expr) ACON_CHECK_IMPL(ACON_CONCAT(acon_check_, __LINE__), expr)
#define ACON_CHECK_IMPL(tmp, expr)                \
  do {                                            \
    auto tmp = (expr);                            \
    if (!tmp.ok()) return std::move(tmp).error(); \
  } while (0)
