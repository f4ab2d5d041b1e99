#include "runtime/billing/stripe.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/http_client.hpp"
#include "core/ids.hpp"

namespace orchagent::runtime::stripe {
namespace {

using Json = nlohmann::json;

constexpr std::size_t kMaxAnswerBytes = 1u << 20;
constexpr std::size_t kMaxStripeMessageBytes = 300;
constexpr std::size_t kMaxV1Signatures = 16;
constexpr std::size_t kMaxEventStringBytes = 255;

bool visible_ascii(std::string_view text) {
    return std::ranges::all_of(text, [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

bool no_control_chars(std::string_view text) {
    return std::ranges::none_of(text, [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// Stripe's messages may quote a (masked) key, e.g. "Invalid API Key provided: sk_test_***1234".
// Every key-like token and the configured key itself become "[redacted]"; control characters
// are dropped and the message is cut to a sane length.
std::string scrub(std::string_view message, std::string_view secret_key) {
    std::string text(message.substr(0, 4 * kMaxStripeMessageBytes));
    if (!secret_key.empty()) {
        for (size_t at = text.find(secret_key); at != std::string::npos;
             at = text.find(secret_key, at)) {
            text.replace(at, secret_key.size(), "[redacted]");
        }
    }
    static constexpr std::array<std::string_view, 4> kPrefixes = {"sk_", "rk_", "whsec_", "pk_"};
    std::string out;
    for (size_t i = 0; i < text.size();) {
        const bool word_start = i == 0 || !(std::isalnum(static_cast<unsigned char>(text[i - 1])) ||
                                            text[i - 1] == '_');
        const bool key = word_start && std::ranges::any_of(kPrefixes, [&](std::string_view p) {
                             return std::string_view(text).substr(i).starts_with(p);
                         });
        if (key) {
            while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) ||
                                       text[i] == '_' || text[i] == '*')) {
                ++i;
            }
            out += "[redacted]";
            continue;
        }
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != 0x7f) out.push_back(text[i]);
        ++i;
    }
    if (out.size() > kMaxStripeMessageBytes) {
        out.resize(kMaxStripeMessageBytes);
        out += "...";
    }
    return out;
}

std::unexpected<Error> not_configured(std::string_view why) {
    Error e(ErrorCode::kServiceUnavailable,
            fmt::format("Stripe billing is not configured: {}", why));
    e.with_retryable(false);
    return std::unexpected(std::move(e));
}

Result<void> check_config(const StripeConfig& config) {
    if (config.secret_key.empty()) return not_configured("no secret key");
    if (!visible_ascii(config.secret_key)) {
        return not_configured("the secret key contains spaces or control characters");
    }
    if (!config.api_base.starts_with("http://") && !config.api_base.starts_with("https://")) {
        return not_configured("the API base is not an http(s) URL");
    }
    if (config.success_url.empty()) return not_configured("no success URL");
    if (config.cancel_url.empty()) return not_configured("no cancel URL");
    if (config.currency.size() != 3 || !std::ranges::all_of(config.currency, [](unsigned char c) {
            return c >= 'a' && c <= 'z';
        })) {
        return not_configured("the currency is not a lower-case ISO 4217 code");
    }
    return {};
}

Result<void> check_input(const std::string& org_id, int64_t amount_cents,
                         const std::string& idempotency_key) {
    if (amount_cents < kMinAmountCents || amount_cents > kMaxAmountCents) {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("amount_cents must be between {} and {}, got {}", kMinAmountCents,
                                kMaxAmountCents, amount_cents));
    }
    if (org_id.empty() || org_id.size() > kMaxOrgIdBytes || !no_control_chars(org_id)) {
        return fail(
            ErrorCode::kInvalidInput,
            fmt::format("org id must be 1 to {} bytes without control characters", kMaxOrgIdBytes));
    }
    if (idempotency_key.empty() || idempotency_key.size() > kMaxIdempotencyKeyBytes ||
        !visible_ascii(idempotency_key)) {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("idempotency key must be 1 to {} visible ASCII characters",
                                kMaxIdempotencyKeyBytes));
    }
    return {};
}

std::optional<std::string> string_at(const Json& object, std::string_view key) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

std::optional<int64_t> int_at(const Json& object, std::string_view key) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_number_integer()) return std::nullopt;
    if (it->is_number_unsigned() &&
        it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return std::nullopt;
    }
    return it->get<int64_t>();
}

// A non-2xx answer from Stripe's API as an Error (see the header for the mapping).
Error refusal(const http_client::Response& answer, std::string_view secret_key) {
    std::string type = "unknown";
    std::string message = "no error message";
    const Json body = Json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_object()) {
        const auto err = body.find("error");
        if (err != body.end() && err->is_object()) {
            if (auto t = string_at(*err, "type")) type = scrub(*t, secret_key);
            if (auto m = string_at(*err, "message")) message = scrub(*m, secret_key);
        }
    }
    const std::string text = fmt::format("Stripe refused the checkout session (HTTP {}, {}): {}",
                                         answer.status, type, message);
    if (answer.status >= 500 || answer.status == 429) {
        return Error(ErrorCode::kServiceUnavailable, text);
    }
    if (type == "idempotency_error" || answer.status == 409) {
        return Error(ErrorCode::kConflict, text);
    }
    Error e(ErrorCode::kInternalError, text);
    e.with_retryable(false);
    return e;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int length = 0;
    const unsigned char* ok =
        HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &length);
    if (ok == nullptr) return {};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * length);
    for (unsigned int i = 0; i < length; ++i) {
        hex.push_back(kHex[mac[i] >> 4]);
        hex.push_back(kHex[mac[i] & 15]);
    }
    return hex;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

struct SignatureHeader {
    int64_t t = -1;
    std::vector<std::string_view> v1;
};

std::unexpected<Error> refuse(std::string message) {
    return fail(ErrorCode::kInvalidInput, std::move(message));
}

Result<SignatureHeader> parse_signature_header(std::string_view header) {
    if (trim(header).empty()) return refuse("missing Stripe-Signature header");
    if (header.size() > kMaxSignatureHeaderBytes) {
        return refuse(fmt::format("Stripe-Signature header is longer than {} bytes",
                                  kMaxSignatureHeaderBytes));
    }
    auto malformed = [](std::string_view why) {
        return refuse(fmt::format("malformed Stripe-Signature header: {}", why));
    };
    SignatureHeader parsed;
    size_t pos = 0;
    while (pos <= header.size()) {
        size_t comma = header.find(',', pos);
        if (comma == std::string_view::npos) comma = header.size();
        const std::string_view item = trim(header.substr(pos, comma - pos));
        pos = comma + 1;
        const size_t eq = item.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            return malformed("expected comma-separated scheme=value items");
        }
        const std::string_view key = item.substr(0, eq);
        const std::string_view value = item.substr(eq + 1);
        if (key == "t") {
            if (parsed.t >= 0) return malformed("more than one timestamp");
            // At most 18 digits: fits int64_t, so no overflow below.
            if (value.empty() || value.size() > 18 ||
                !std::ranges::all_of(value, [](unsigned char c) { return std::isdigit(c); })) {
                return malformed("t is not a Unix time in seconds");
            }
            parsed.t = 0;
            for (char c : value) parsed.t = parsed.t * 10 + (c - '0');
        } else if (key == "v1") {
            if (parsed.v1.size() == kMaxV1Signatures) {
                return malformed(fmt::format("more than {} v1 signatures", kMaxV1Signatures));
            }
            parsed.v1.push_back(value);
        }
        // Other schemes (v0, future ones) are ignored, as Stripe's own libraries do.
    }
    if (parsed.t < 0) return malformed("no timestamp (t=)");
    if (parsed.v1.empty()) return refuse("Stripe-Signature header has no v1 signature");
    return parsed;
}

Result<WebhookEvent> parse_event(std::string_view payload) {
    const Json body = Json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object()) return refuse("webhook payload is not a JSON object");
    WebhookEvent event;
    auto id = string_at(body, "id");
    auto type = string_at(body, "type");
    if (!id || id->empty() || id->size() > kMaxEventStringBytes) {
        return refuse("webhook event has no valid 'id'");
    }
    if (!type || type->empty() || type->size() > kMaxEventStringBytes) {
        return refuse("webhook event has no valid 'type'");
    }
    event.id = std::move(*id);
    event.type = std::move(*type);
    const auto data = body.find("data");
    if (data == body.end() || !data->is_object()) return refuse("webhook event has no 'data'");
    const auto object = data->find("object");
    if (object == data->end() || !object->is_object()) {
        return refuse("webhook event has no 'data.object'");
    }
    if (string_at(*object, "object") != "checkout.session" &&
        !event.type.starts_with("checkout.session.")) {
        return event;
    }
    auto session_id = string_at(*object, "id");
    if (!session_id || session_id->empty() || session_id->size() > kMaxEventStringBytes) {
        return refuse("checkout session event has no valid 'data.object.id'");
    }
    CheckoutSessionEvent checkout;
    checkout.session_id = std::move(*session_id);
    checkout.client_reference_id = string_at(*object, "client_reference_id");
    checkout.amount_total = int_at(*object, "amount_total");
    checkout.payment_status = string_at(*object, "payment_status");
    checkout.currency = string_at(*object, "currency");
    if (const auto metadata = object->find("metadata");
        metadata != object->end() && metadata->is_object()) {
        checkout.metadata_org_id = string_at(*metadata, "org_id");
    }
    event.checkout = std::move(checkout);
    return event;
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

}  // namespace

Result<CheckoutSession> create_checkout_session(const StripeConfig& config,
                                                const std::string& org_id, int64_t amount_cents,
                                                const std::string& idempotency_key) {
    if (auto ok = check_config(config); !ok) return std::unexpected(ok.error());
    if (auto ok = check_input(org_id, amount_cents, idempotency_key); !ok) {
        return std::unexpected(ok.error());
    }
    const std::string amount = std::to_string(amount_cents);
    http_client::Request request{
        .method = "POST",
        .url = config.api_base + "/v1/checkout/sessions",
        .headers = {{"Authorization", "Bearer " + config.secret_key},
                    {"Idempotency-Key", idempotency_key},
                    {"Content-Type", "application/x-www-form-urlencoded"}},
        .body = http_client::form_encode({
            {"mode", "payment"},
            {"line_items[0][price_data][currency]", config.currency},
            {"line_items[0][price_data][product_data][name]", std::string(kProductName)},
            {"line_items[0][price_data][unit_amount]", amount},
            {"line_items[0][quantity]", "1"},
            {"success_url", config.success_url},
            {"cancel_url", config.cancel_url},
            {"client_reference_id", org_id},
            {"metadata[org_id]", org_id},
            {"metadata[amount_cents]", amount},
        }),
        .timeout = config.timeout,
        .max_response_bytes = kMaxAnswerBytes,
    };
    auto answer = http_client::send(request);
    if (!answer) {
        Error e = answer.error();
        e.with_context("Stripe");
        return std::unexpected(std::move(e));
    }
    if (answer->status < 200 || answer->status > 299) {
        return std::unexpected(refusal(*answer, config.secret_key));
    }
    const Json body = Json::parse(answer->body, nullptr, /*allow_exceptions=*/false);
    auto bad_answer = [](std::string_view why) {
        Error e(ErrorCode::kInternalError,
                fmt::format("Stripe's answer is not a checkout session: {}", why));
        e.with_retryable(false);
        return std::unexpected(std::move(e));
    };
    if (!body.is_object()) return bad_answer("not a JSON object");
    auto id = string_at(body, "id");
    auto url = string_at(body, "url");
    if (!id || id->empty()) return bad_answer("no 'id'");
    if (!url || !(url->starts_with("https://") || url->starts_with("http://"))) {
        return bad_answer("no http(s) 'url'");
    }
    return CheckoutSession{.id = std::move(*id), .url = std::move(*url)};
}

Result<WebhookEvent> verify_webhook(std::string_view payload, std::string_view signature_header,
                                    const std::string& webhook_secret, int64_t now_seconds,
                                    int64_t tolerance_seconds) {
    auto misconfigured = [](std::string_view why) {
        Error e(ErrorCode::kInternalError, fmt::format("Stripe webhook: {}", why));
        e.with_retryable(false);
        return std::unexpected(std::move(e));
    };
    if (webhook_secret.empty()) return misconfigured("no webhook secret configured");
    if (tolerance_seconds < 1) return misconfigured("the tolerance must be at least 1 second");
    if (now_seconds < 0) return misconfigured("the clock is before 1970");
    if (payload.size() > kMaxWebhookPayloadBytes) {
        return fail(
            ErrorCode::kDocumentTooLarge,
            fmt::format("webhook payload is larger than {} bytes", kMaxWebhookPayloadBytes));
    }
    auto header = parse_signature_header(signature_header);
    if (!header) return std::unexpected(header.error());

    std::string signed_payload = std::to_string(header->t);
    signed_payload.push_back('.');
    signed_payload.append(payload);
    const std::string expected = hmac_sha256_hex(webhook_secret, signed_payload);
    if (expected.empty()) return misconfigured("HMAC-SHA256 failed");
    bool match = false;
    for (std::string_view candidate : header->v1) {
        // No early exit: every candidate is compared, whatever the first gives.
        match = constant_time_equal(expected, candidate) || match;
    }
    if (!match) return refuse("no v1 signature in Stripe-Signature matches the payload");

    // t is in [0, 10^18) and now_seconds >= 0: neither difference overflows.
    if (header->t < now_seconds && now_seconds - header->t > tolerance_seconds) {
        return refuse(fmt::format("webhook timestamp is {} seconds old, beyond the tolerance of {}",
                                  now_seconds - header->t, tolerance_seconds));
    }
    if (header->t > now_seconds && header->t - now_seconds > tolerance_seconds) {
        return refuse(
            fmt::format("webhook timestamp is {} seconds in the future, beyond the tolerance of {}",
                        header->t - now_seconds, tolerance_seconds));
    }
    auto event = parse_event(payload);
    if (!event) return event;
    event->signed_at = header->t;
    return event;
}

Result<std::optional<Credit>> credit_from_event(const WebhookEvent& event,
                                                std::string_view currency) {
    if (event.type != "checkout.session.completed" &&
        event.type != "checkout.session.async_payment_succeeded") {
        return std::optional<Credit>{};
    }
    if (!event.checkout || !event.checkout->paid()) return std::optional<Credit>{};
    const CheckoutSessionEvent& s = *event.checkout;
    auto inconsistent = [&](std::string_view why) {
        return fail(
            ErrorCode::kUnprocessable,
            fmt::format("paid checkout session {} (event {}): {}", s.session_id, event.id, why));
    };
    if (s.client_reference_id && s.metadata_org_id &&
        *s.client_reference_id != *s.metadata_org_id) {
        return inconsistent("client_reference_id and metadata.org_id differ");
    }
    const auto& org = s.client_reference_id ? s.client_reference_id : s.metadata_org_id;
    if (!org || org->empty()) return inconsistent("no org id");
    if (!s.amount_total || *s.amount_total <= 0) return inconsistent("no positive amount_total");
    if (!s.currency || lower(*s.currency) != lower(currency)) {
        return inconsistent(
            fmt::format("currency is '{}', not '{}'", s.currency.value_or(""), currency));
    }
    return std::optional<Credit>(
        Credit{.session_id = s.session_id, .org_id = *org, .amount_cents = *s.amount_total});
}

}  // namespace orchagent::runtime::stripe
