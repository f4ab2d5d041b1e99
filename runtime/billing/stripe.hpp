// Stripe, the payment provider behind POST /billing/checkout (CONTRACT.md section 5): creating
// a Checkout Session for a credit top-up, and verifying the signed webhook Stripe sends when
// one is paid. No state here: the caller stores sessions and credits the ledger once.
//
// Errors (error codes are CONTRACT.md section 4's; the table in core/error.cpp gives status):
//   create_checkout_session
//     INVALID_INPUT        amount outside [kMinAmountCents, kMaxAmountCents], bad org id or
//                          idempotency key (the caller's input)
//     SERVICE_UNAVAILABLE  retryable: Stripe unreachable, timed out, answered 5xx or 429
//                          not retryable: billing not configured (no key or URLs)
//     CONFLICT             Stripe refused the idempotency key (reused with other parameters,
//                          or the same request still in flight)
//     INTERNAL_ERROR       not retryable: any other 4xx (a bad secret key, a bad currency:
//                          the operator's configuration, not the user's input), or a 2xx
//                          answer that is not a checkout session
//   No message ever contains the secret key (Stripe's own messages are scrubbed of keys).
//   verify_webhook
//     DOCUMENT_TOO_LARGE   payload over kMaxWebhookPayloadBytes
//     INVALID_INPUT        every other refusal (Stripe expects a 400): header missing, too
//                          long or malformed; no v1 signature; no v1 matches; timestamp too
//                          old or too far in the future; payload not a JSON event
//     INTERNAL_ERROR       not retryable: no webhook secret configured, tolerance < 1
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace orchagent::runtime::stripe {

inline constexpr int64_t kMinAmountCents = 500;        // CONTRACT.md section 5
inline constexpr int64_t kMaxAmountCents = 1'000'000;  // $10,000 per top-up
inline constexpr std::size_t kMaxWebhookPayloadBytes = 1u << 20;
inline constexpr std::size_t kMaxSignatureHeaderBytes = 4096;
inline constexpr std::size_t kMaxOrgIdBytes = 200;           // Stripe's client_reference_id
inline constexpr std::size_t kMaxIdempotencyKeyBytes = 255;  // Stripe's limit
inline constexpr std::string_view kProductName = "orchagent credits";

struct StripeConfig {
    // Stripe's API; tests point it at a fake. http(s)://, no trailing '/'.
    std::string api_base = "https://api.stripe.com";
    // sk_live_... / sk_test_... (or a restricted rk_... key). Never logged or echoed.
    std::string secret_key;
    // whsec_...: the signing secret of the webhook endpoint.
    std::string webhook_secret;
    // Where Stripe sends the payer after paying, and after giving up.
    std::string success_url;
    std::string cancel_url;
    // ISO 4217, lower-case.
    std::string currency = "usd";
    // A webhook's signed timestamp may be this many seconds from now, either way (>= 1).
    int64_t tolerance_seconds = 300;
    // The whole exchange with Stripe's API.
    std::chrono::milliseconds timeout{15000};
};

struct CheckoutSession {
    std::string id;   // cs_...
    std::string url;  // where to send the payer
};

// POST {api_base}/v1/checkout/sessions: a one-item payment of `amount_cents` in the
// configured currency, client_reference_id and metadata[org_id] = org_id,
// metadata[amount_cents] = amount_cents. `idempotency_key` goes to Stripe's Idempotency-Key
// header, so a retried call with the same key yields the same session.
Result<CheckoutSession> create_checkout_session(const StripeConfig& config,
                                                const std::string& org_id, int64_t amount_cents,
                                                const std::string& idempotency_key);

// The fields of a Checkout Session object carried by a checkout.session.* event; each is
// absent when the event lacks it (or it is null).
struct CheckoutSessionEvent {
    std::string session_id;                          // data.object.id
    std::optional<std::string> client_reference_id;  // our org id
    std::optional<std::string> metadata_org_id;      // metadata.org_id
    std::optional<int64_t> amount_total;             // cents actually charged
    std::optional<std::string> payment_status;       // "paid", "unpaid", "no_payment_required"
    std::optional<std::string> currency;
    bool paid() const { return payment_status == "paid"; }
};

struct WebhookEvent {
    std::string id;         // evt_...: the same event may be delivered more than once
    std::string type;       // e.g. "checkout.session.completed"
    int64_t signed_at = 0;  // the header's t
    // Set when data.object is a checkout session (every checkout.session.* type); other
    // events carry only id and type, for the caller to acknowledge and ignore.
    std::optional<CheckoutSessionEvent> checkout;
};

// Verifies a Stripe-Signature header ("t=<unix seconds>,v1=<hex>[,v1=<hex>...]", other
// schemes such as v0 ignored) over the raw request body: some v1 must equal
// hex(HMAC-SHA256(webhook_secret, "<t>.<payload>")), compared in constant time, and
// |now_seconds - t| <= tolerance_seconds. Then parses the event.
Result<WebhookEvent> verify_webhook(std::string_view payload, std::string_view signature_header,
                                    const std::string& webhook_secret, int64_t now_seconds,
                                    int64_t tolerance_seconds);

// What a webhook event credits.
struct Credit {
    std::string session_id;  // the key that makes the credit happen once
    std::string org_id;
    int64_t amount_cents = 0;
};

// The credit a verified event grants: set for a paid checkout.session.completed or
// checkout.session.async_payment_succeeded, nullopt for any other event or an unpaid session
// (a delayed payment method: its async_payment_succeeded follows). UNPROCESSABLE when a paid
// session is inconsistent: no org id, client_reference_id and metadata.org_id differ, no or
// non-positive amount, another currency than `currency`. Such an event is genuine (signed),
// so the caller should log it and still acknowledge it, or Stripe retries it for days.
Result<std::optional<Credit>> credit_from_event(const WebhookEvent& event,
                                                std::string_view currency);

}  // namespace orchagent::runtime::stripe
