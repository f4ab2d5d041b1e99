// POST /billing/checkout: a Stripe Checkout Session for a credit top-up. POST
// /billing/webhooks/stripe: Stripe's signed event that the session was paid, credited once
// (docs/operator.md "Payments", docs/security.md). Without a configured provider checkout
// says so, and `orchagentd admin grant-credits` remains the way to add credits.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/app.hpp"
#include "core/ids.hpp"

namespace orchagent::api {
namespace {

namespace stripe = runtime::stripe;

Error not_configured() {
    return Error(ErrorCode::kServiceUnavailable,
                 "payments are not configured on this server; an operator can add credits with "
                 "`orchagentd admin grant-credits ORG CENTS`")
        .with_retryable(false);
}

// {"amount_cents": N} or {"amount_usd": N}.
Result<int64_t> amount_of(const Json& body) {
    if (!body.is_object()) return fail(ErrorCode::kInvalidInput, "body: must be a JSON object");
    for (const auto& [key, value] : body.items()) {
        if (key != "amount_cents" && key != "amount_usd")
            return fail(ErrorCode::kInvalidInput, fmt::format("{}: unknown field", key));
    }
    const bool cents = body.contains("amount_cents");
    const bool usd = body.contains("amount_usd");
    if (cents == usd) {
        return fail(ErrorCode::kInvalidInput, "amount_cents: required (or amount_usd, not both)");
    }
    const Json& v = cents ? body["amount_cents"] : body["amount_usd"];
    const int64_t scale = cents ? 1 : 100;
    const int64_t min = stripe::kMinAmountCents / scale, max = stripe::kMaxAmountCents / scale;
    if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max) {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("{}: must be an integer from {} to {}",
                                cents ? "amount_cents" : "amount_usd", min, max));
    }
    return v.get<int64_t>() * scale;
}

}  // namespace

void register_payment_routes(http::Router& router, App& app) {
    router.add("POST", "/billing/checkout",
               authed(app, [&app](http::Request& request, const runtime::Principal& who) {
                   auto body = json_body(request);
                   if (!body) return error_of(body.error(), request);
                   auto amount = amount_of(*body);
                   if (!amount) return error_of(amount.error(), request);
                   if (!app.stripe) return error_of(not_configured(), request);
                   // The caller's Idempotency-Key makes a retried top-up the same session;
                   // scoped by org so two orgs' keys never meet at Stripe.
                   std::string key = new_id("chk");
                   if (auto k = request.header("idempotency-key")) {
                       if (k->empty() || k->size() > 200) {
                           return error_of(Error(ErrorCode::kInvalidInput,
                                                 "Idempotency-Key: 1 to 200 characters"),
                                           request);
                       }
                       key = fmt::format("{}:{}", who.org.id, *k);
                   }
                   auto session = stripe::create_checkout_session(*app.stripe, who.org.id, *amount, key);
                   if (!session) {
                       spdlog::warn("checkout for org {}: {}", who.org.slug, session.error().message());
                       return error_of(session.error(), request);
                   }
                   auto saved = app.store->create_checkout({.id = session->id,
                                                            .org_id = who.org.id,
                                                            .amount_cents = *amount,
                                                            .status = "open",
                                                            .created_at = app.clock->now_ms()});
                   // A retried key answers the session made before: already recorded.
                   if (!saved && saved.error().code() != ErrorCode::kConflict) {
                       return error_of(saved.error(), request);
                   }
                   return json_response(200, {{"checkout_url", session->url},
                                              {"session_id", session->id},
                                              {"amount_cents", *amount},
                                              {"currency", app.stripe->currency}});
               }),
               http::kDefaultMaxBody, http::BodyStorage::kAuto, http::HandlerPool::kLong);

    router.add(
        "POST", "/billing/webhooks/stripe",
        [&app](http::Request& request) -> http::Response {
            if (!app.stripe) return error_of(not_configured(), request);
            const int64_t now = app.clock->now_ms();
            auto event = stripe::verify_webhook(request.body,
                                                request.header("stripe-signature").value_or(""),
                                                app.stripe->webhook_secret, now / 1000,
                                                app.stripe->tolerance_seconds);
            if (!event) {
                spdlog::warn("stripe webhook refused: {}", event.error().message());
                return error_of(event.error(), request);
            }
            Json answer = {{"received", true}, {"credited", false}, {"duplicate", false},
                           {"transaction_id", nullptr}};
            auto credit = stripe::credit_from_event(*event, app.stripe->currency);
            if (!credit) {
                // Genuine but inconsistent: acknowledged (or Stripe retries for days), logged.
                spdlog::error("stripe event {} not credited: {}", event->id, credit.error().message());
                return json_response(200, answer);
            }
            if (!*credit) return json_response(200, answer);  // an event we do not act on
            auto paid = app.store->complete_checkout(event->id, event->type,
                                                     {.id = (*credit)->session_id,
                                                      .org_id = (*credit)->org_id,
                                                      .amount_cents = (*credit)->amount_cents},
                                                     now);
            if (!paid) return error_of(paid.error(), request);  // 5xx: Stripe retries
            switch (paid->outcome) {
                case store::PaymentOutcome::kCredited:
                    answer["credited"] = true;
                    answer["transaction_id"] = paid->transaction->id;
                    spdlog::info("stripe event {}: {} cents credited to org {}", event->id,
                                 (*credit)->amount_cents, (*credit)->org_id);
                    break;
                case store::PaymentOutcome::kDuplicate: answer["duplicate"] = true; break;
                case store::PaymentOutcome::kUnknownOrg:
                    spdlog::error("stripe event {}: org {} does not exist; {} cents not credited",
                                  event->id, (*credit)->org_id, (*credit)->amount_cents);
                    break;
            }
            return json_response(200, answer);
        },
        stripe::kMaxWebhookPayloadBytes);
}

}  // namespace orchagent::api
