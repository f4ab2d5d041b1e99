#include "runtime/billing/stripe.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <limits>
#include <set>

#include "core/http_client.hpp"
#include "tests/support/fake_http.hpp"
#include "tests/support/fake_stripe.hpp"

namespace orchagent::runtime::stripe {
namespace {

using orchagent::testing::FakeHttpServer;
using orchagent::testing::FakeRequest;
using orchagent::testing::FakeResponse;
using orchagent::testing::FakeStripe;
using Pairs = std::vector<std::pair<std::string, std::string>>;

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

StripeConfig config_for(const std::string& api_base, const std::string& secret_key) {
    StripeConfig c;
    c.api_base = api_base;
    c.secret_key = secret_key;
    c.webhook_secret = std::string(FakeStripe::kWebhookSecret);
    c.success_url = "https://orchagent.test/billing/done?session_id={CHECKOUT_SESSION_ID}";
    c.cancel_url = "https://orchagent.test/billing?cancelled=1";
    c.timeout = std::chrono::milliseconds(5000);
    return c;
}

// ---- checkout ----------------------------------------------------------------------------

TEST(StripeCheckout, SendsTheFormTheKeyAndTheIdempotencyKeyAndParsesTheSession) {
    FakeStripe fake;
    const StripeConfig c = config_for(fake.url(), fake.secret_key());
    auto session = create_checkout_session(c, "org_3f9c0a", 2500, "topup-key-1");
    ASSERT_TRUE(session.has_value()) << session.error().message();
    EXPECT_TRUE(session->id.starts_with("cs_test_"));
    EXPECT_EQ(session->url, "https://checkout.stripe.test/c/pay/" + session->id);

    const auto requests = fake.requests();
    ASSERT_EQ(requests.size(), 1u);
    const FakeRequest& r = requests[0];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/v1/checkout/sessions");
    EXPECT_EQ(r.headers.at("authorization"), "Bearer " + fake.secret_key());
    EXPECT_EQ(r.headers.at("idempotency-key"), "topup-key-1");
    EXPECT_EQ(r.headers.at("content-type"), "application/x-www-form-urlencoded");
    // Brackets and URL characters are percent-encoded on the wire...
    EXPECT_TRUE(contains(r.body, "line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=2500"));
    EXPECT_TRUE(contains(r.body, "success_url=https%3A%2F%2Forchagent.test%2Fbilling%2Fdone%3F"));
    EXPECT_FALSE(contains(r.body, "sk_test"));
    // ...and decode to exactly Stripe's parameters, in this order.
    const Pairs expected = {
        {"mode", "payment"},
        {"line_items[0][price_data][currency]", "usd"},
        {"line_items[0][price_data][product_data][name]", "orchagent credits"},
        {"line_items[0][price_data][unit_amount]", "2500"},
        {"line_items[0][quantity]", "1"},
        {"success_url", c.success_url},
        {"cancel_url", c.cancel_url},
        {"client_reference_id", "org_3f9c0a"},
        {"metadata[org_id]", "org_3f9c0a"},
        {"metadata[amount_cents]", "2500"},
    };
    EXPECT_EQ(FakeStripe::form_decode(r.body), expected);

    const auto remembered = fake.session(session->id);
    ASSERT_TRUE(remembered.has_value());
    EXPECT_EQ(remembered->amount_cents, 2500);
    EXPECT_EQ(remembered->client_reference_id, "org_3f9c0a");
    EXPECT_EQ(remembered->metadata.at("org_id"), "org_3f9c0a");
    EXPECT_EQ(remembered->idempotency_key, "topup-key-1");
}

TEST(StripeCheckout, TheSameIdempotencyKeyGivesTheSameSessionAndOtherParametersConflict) {
    FakeStripe fake;
    const StripeConfig c = config_for(fake.url(), fake.secret_key());
    auto first = create_checkout_session(c, "org_a", 1000, "k-same");
    auto again = create_checkout_session(c, "org_a", 1000, "k-same");
    ASSERT_TRUE(first.has_value() && again.has_value());
    EXPECT_EQ(first->id, again->id);
    EXPECT_EQ(fake.sessions().size(), 1u);

    auto other = create_checkout_session(c, "org_a", 2000, "k-same");
    ASSERT_FALSE(other.has_value());
    EXPECT_EQ(other.error().code(), ErrorCode::kConflict);
    EXPECT_TRUE(contains(other.error().message(), "idempotency_error"));
}

TEST(StripeCheckout, AWrongSecretKeyIsAnInternalErrorThatNeverShowsTheKey) {
    FakeStripe fake;
    const std::string wrong = "sk_test_wrongKey9876543210zyxwvuts";
    auto r = create_checkout_session(config_for(fake.url(), wrong), "org_a", 1000, "k1");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInternalError);
    EXPECT_FALSE(r.error().retryable());
    const std::string& m = r.error().message();
    EXPECT_TRUE(contains(m, "HTTP 401")) << m;
    EXPECT_TRUE(contains(m, "Invalid API Key provided: [redacted]")) << m;
    EXPECT_FALSE(contains(m, wrong)) << m;
    EXPECT_FALSE(contains(m, "wuts")) << m;  // not even the last four Stripe leaves unmasked
    EXPECT_FALSE(contains(m, "sk_test")) << m;
}

TEST(StripeCheckout, AStripeMessageQuotingTheKeyIsScrubbed) {
    FakeStripe fake;
    const std::string key = fake.secret_key();
    fake.fail_with(400, R"({"error":{"type":"invalid_request_error","message":"bad key )" + key +
                            R"( and whsec_abc123, glued:)" + key +
                            R"(x, masked rk_live_****abcd\n"}})");
    auto r = create_checkout_session(config_for(fake.url(), key), "org_a", 1000, "k1");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInternalError);
    const std::string& m = r.error().message();
    EXPECT_TRUE(contains(m, "invalid_request_error")) << m;
    EXPECT_FALSE(contains(m, key)) << m;
    EXPECT_FALSE(contains(m, "rk_live")) << m;
    EXPECT_TRUE(contains(m, "glued:[redacted]x")) << m;
    EXPECT_FALSE(contains(m, "whsec_abc123")) << m;
    EXPECT_FALSE(contains(m, "\n")) << m;
}

TEST(StripeCheckout, StripeDownOrThrottlingIsRetryableServiceUnavailable) {
    FakeStripe fake;
    const StripeConfig c = config_for(fake.url(), fake.secret_key());
    fake.fail_with(500);
    auto down = create_checkout_session(c, "org_a", 1000, "k1");
    ASSERT_FALSE(down.has_value());
    EXPECT_EQ(down.error().code(), ErrorCode::kServiceUnavailable);
    EXPECT_TRUE(down.error().retryable());
    EXPECT_TRUE(contains(down.error().message(), "HTTP 500, api_error")) << down.error().message();

    fake.fail_with(429, R"({"error":{"type":"rate_limit_error","message":"Too many requests"}})");
    auto throttled = create_checkout_session(c, "org_a", 1000, "k1");
    ASSERT_FALSE(throttled.has_value());
    EXPECT_EQ(throttled.error().code(), ErrorCode::kServiceUnavailable);

    fake.fail_with(502, "<html>bad gateway</html>");
    auto html = create_checkout_session(c, "org_a", 1000, "k1");
    ASSERT_FALSE(html.has_value());
    EXPECT_EQ(html.error().code(), ErrorCode::kServiceUnavailable);
    EXPECT_TRUE(contains(html.error().message(), "HTTP 502, unknown")) << html.error().message();

    fake.recover();
    EXPECT_TRUE(create_checkout_session(c, "org_a", 1000, "k1").has_value());
}

TEST(StripeCheckout, UnreachableOrSlowStripeIsRetryableServiceUnavailable) {
    const std::string key = std::string(FakeStripe::kSecretKey);
    auto refused = create_checkout_session(config_for("http://127.0.0.1:1", key), "o", 1000, "k");
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code(), ErrorCode::kServiceUnavailable);
    EXPECT_TRUE(refused.error().retryable());
    EXPECT_TRUE(refused.error().message().starts_with("Stripe: ")) << refused.error().message();
    EXPECT_FALSE(contains(refused.error().message(), key));

    FakeHttpServer slow([](const FakeRequest&) {
        return FakeResponse{.body = R"({"id":"cs_x","url":"https://x"})", .delay_ms = 1500};
    });
    StripeConfig c = config_for(slow.url(), key);
    c.timeout = std::chrono::milliseconds(200);
    auto late = create_checkout_session(c, "o", 1000, "k");
    ASSERT_FALSE(late.has_value());
    EXPECT_EQ(late.error().code(), ErrorCode::kServiceUnavailable);
}

TEST(StripeCheckout, ASuccessAnswerThatIsNoSessionIsANonRetryableInternalError) {
    for (const std::string body :
         {"not json", "{}", R"({"id":"cs_1"})", R"({"id":"cs_1","url":"javascript:x"})"}) {
        FakeHttpServer odd([&](const FakeRequest&) { return FakeResponse{.body = body}; });
        auto r = create_checkout_session(config_for(odd.url(), "sk_test_k"), "o", 1000, "k");
        ASSERT_FALSE(r.has_value()) << body;
        EXPECT_EQ(r.error().code(), ErrorCode::kInternalError) << body;
        EXPECT_FALSE(r.error().retryable());
        EXPECT_TRUE(contains(r.error().message(), "not a checkout session")) << r.error().message();
    }
}

TEST(StripeCheckout, InputIsValidatedBeforeAnythingIsSent) {
    FakeStripe fake;
    const StripeConfig c = config_for(fake.url(), fake.secret_key());
    for (int64_t bad : {int64_t{-5}, int64_t{0}, int64_t{499}, int64_t{1'000'001},
                        std::numeric_limits<int64_t>::max()}) {
        auto r = create_checkout_session(c, "org_a", bad, "k");
        ASSERT_FALSE(r.has_value()) << bad;
        EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
        EXPECT_TRUE(contains(r.error().message(), "amount_cents must be between 500 and 1000000"))
            << r.error().message();
    }
    EXPECT_EQ(create_checkout_session(c, "", 1000, "k").error().code(), ErrorCode::kInvalidInput);
    EXPECT_EQ(create_checkout_session(c, std::string(201, 'o'), 1000, "k").error().code(),
              ErrorCode::kInvalidInput);
    EXPECT_EQ(create_checkout_session(c, "org\r\nX: y", 1000, "k").error().code(),
              ErrorCode::kInvalidInput);
    EXPECT_EQ(create_checkout_session(c, "org_a", 1000, "").error().code(),
              ErrorCode::kInvalidInput);
    EXPECT_EQ(create_checkout_session(c, "org_a", 1000, "k\r\nX-Evil: 1").error().code(),
              ErrorCode::kInvalidInput);
    EXPECT_EQ(create_checkout_session(c, "org_a", 1000, std::string(256, 'k')).error().code(),
              ErrorCode::kInvalidInput);
    EXPECT_TRUE(fake.requests().empty());

    EXPECT_TRUE(create_checkout_session(c, "org_a", 500, "k-min").has_value());
    EXPECT_TRUE(create_checkout_session(c, "org_a", 1'000'000, "k-max").has_value());
    EXPECT_EQ(fake.sessions().size(), 2u);
}

TEST(StripeCheckout, MissingConfigurationIsANonRetryableServiceUnavailable) {
    FakeStripe fake;
    std::vector<StripeConfig> bad(6, config_for(fake.url(), fake.secret_key()));
    bad[0].secret_key = "";
    bad[1].secret_key = "sk_test_x\r\nX-Evil: 1";
    bad[2].success_url = "";
    bad[3].cancel_url = "";
    bad[4].api_base = "file:///etc";
    bad[5].currency = "US$";
    for (const auto& c : bad) {
        auto r = create_checkout_session(c, "org_a", 1000, "k");
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code(), ErrorCode::kServiceUnavailable);
        EXPECT_FALSE(r.error().retryable());
        EXPECT_TRUE(contains(r.error().message(), "not configured")) << r.error().message();
        EXPECT_FALSE(contains(r.error().message(), "sk_test")) << r.error().message();
    }
    EXPECT_TRUE(fake.requests().empty());
}

// ---- webhook -----------------------------------------------------------------------------

constexpr int64_t kNow = 1'700'000'000;
const std::string kVectorSecret = "whsec_test_vector_secret";
const std::string kVectorPayload =
    R"({"id":"evt_vector","object":"event","type":"ping","data":{"object":{"id":"x"}}})";
// printf '%s' '1700000000.<payload>' | openssl dgst -sha256 -hmac whsec_test_vector_secret
// (and Python's hmac module agrees).
const std::string kVectorV1 = "59f7a0e9587651163aaa35e9a8b06207d36ab05a5045ec8fcc747a0ca2582405";

std::string header_at(int64_t t, const std::string& payload,
                      const std::string& secret = kVectorSecret) {
    return FakeStripe::signature_header(payload, secret, t);
}

Error refused(std::string_view payload, std::string_view header, int64_t now = kNow) {
    auto r = verify_webhook(payload, header, kVectorSecret, now, 300);
    EXPECT_FALSE(r.has_value()) << header;
    if (r.has_value()) return Error(ErrorCode::kInternalError, "accepted");
    return r.error();
}

TEST(StripeWebhook, AKnownVectorVerifies) {
    EXPECT_EQ(FakeStripe::hmac_sha256_hex(kVectorSecret, "1700000000." + kVectorPayload),
              kVectorV1);
    auto r = verify_webhook(kVectorPayload, "t=1700000000,v1=" + kVectorV1, kVectorSecret,
                            kNow + 10, 300);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->id, "evt_vector");
    EXPECT_EQ(r->type, "ping");
    EXPECT_EQ(r->signed_at, kNow);
    EXPECT_FALSE(r->checkout.has_value());
    // One flipped hex digit of the vector is refused.
    std::string flipped = kVectorV1;
    flipped[10] = flipped[10] == '0' ? '1' : '0';
    EXPECT_FALSE(
        verify_webhook(kVectorPayload, "t=1700000000,v1=" + flipped, kVectorSecret, kNow, 300)
            .has_value());
}

TEST(StripeWebhook, AnyOfSeveralV1SignaturesMayMatchAndOtherSchemesAreIgnored) {
    const std::string wrong = std::string(64, 'a');
    for (const std::string& header :
         {"t=1700000000,v1=" + wrong + ",v1=" + kVectorV1,
          "t=1700000000, v0=" + wrong + ", v1=" + kVectorV1 + ", v1=" + wrong + ", v9=zz",
          "v1=" + kVectorV1 + ",t=1700000000"}) {
        auto r = verify_webhook(kVectorPayload, header, kVectorSecret, kNow, 300);
        EXPECT_TRUE(r.has_value()) << header << ": " << r.error().message();
    }
    // A matching v0 (the legacy scheme) counts for nothing.
    const Error e = refused(kVectorPayload, "t=1700000000,v0=" + kVectorV1);
    EXPECT_EQ(e.code(), ErrorCode::kInvalidInput);
    EXPECT_EQ(e.message(), "Stripe-Signature header has no v1 signature");
}

TEST(StripeWebhook, TamperedPayloadOrWrongSecretIsRefused) {
    std::string tampered = kVectorPayload;
    tampered.replace(tampered.find("ping"), 4, "pong");
    const Error e1 = refused(tampered, header_at(kNow, kVectorPayload));
    EXPECT_EQ(e1.code(), ErrorCode::kInvalidInput);
    EXPECT_EQ(e1.message(), "no v1 signature in Stripe-Signature matches the payload");

    const Error e2 = refused(kVectorPayload, header_at(kNow, kVectorPayload, "whsec_other"));
    EXPECT_EQ(e2.message(), "no v1 signature in Stripe-Signature matches the payload");

    // Re-signing the old signature with another timestamp breaks it too.
    const Error e3 = refused(kVectorPayload, "t=1700000001,v1=" + kVectorV1);
    EXPECT_EQ(e3.message(), "no v1 signature in Stripe-Signature matches the payload");
}

TEST(StripeWebhook, TheTimestampMustBeWithinTheToleranceBothWays) {
    EXPECT_TRUE(verify_webhook(kVectorPayload, header_at(kNow - 300, kVectorPayload), kVectorSecret,
                               kNow, 300)
                    .has_value());
    EXPECT_TRUE(verify_webhook(kVectorPayload, header_at(kNow + 300, kVectorPayload), kVectorSecret,
                               kNow, 300)
                    .has_value());
    const Error stale = refused(kVectorPayload, header_at(kNow - 301, kVectorPayload));
    EXPECT_EQ(stale.code(), ErrorCode::kInvalidInput);
    EXPECT_EQ(stale.message(), "webhook timestamp is 301 seconds old, beyond the tolerance of 300");
    const Error future = refused(kVectorPayload, header_at(kNow + 301, kVectorPayload));
    EXPECT_EQ(future.message(),
              "webhook timestamp is 301 seconds in the future, beyond the tolerance of 300");
    const Error epoch = refused(kVectorPayload, header_at(0, kVectorPayload));
    EXPECT_TRUE(contains(epoch.message(), "seconds old")) << epoch.message();
}

TEST(StripeWebhook, MalformedHeadersAreRefusedSayingWhy) {
    const std::string v1 = ",v1=" + kVectorV1;
    EXPECT_EQ(refused(kVectorPayload, "").message(), "missing Stripe-Signature header");
    EXPECT_EQ(refused(kVectorPayload, "  ").message(), "missing Stripe-Signature header");
    for (const std::string& header :
         {std::string("garbage"), "v1=" + kVectorV1, "t=abc" + v1, "t=" + v1, "t=-5" + v1,
          "t=1700000000,t=1700000000" + v1, "t=1700000000,,v1=" + kVectorV1, "t=1700000000," + v1,
          "=x,t=1700000000" + v1, "t=1234567890123456789" + v1}) {
        const Error e = refused(kVectorPayload, header);
        EXPECT_EQ(e.code(), ErrorCode::kInvalidInput) << header;
        EXPECT_TRUE(e.message().starts_with("malformed Stripe-Signature header: "))
            << header << ": " << e.message();
    }
    EXPECT_EQ(refused(kVectorPayload, "t=1700000000").message(),
              "Stripe-Signature header has no v1 signature");
    const std::string longest =
        "t=1700000000,v1=" + kVectorV1 + ",v0=" + std::string(4096 - 16 - 64 - 4, 'a');
    ASSERT_EQ(longest.size(), 4096u);
    EXPECT_TRUE(verify_webhook(kVectorPayload, longest, kVectorSecret, kNow, 300).has_value());
    EXPECT_EQ(refused(kVectorPayload, longest + "a").message(),
              "Stripe-Signature header is longer than 4096 bytes");
    std::string many = "t=1700000000";
    for (int i = 0; i < 17; ++i) many += v1;
    EXPECT_TRUE(contains(refused(kVectorPayload, many).message(), "more than 16 v1 signatures"));
}

TEST(StripeWebhook, PayloadSizeIsCapped) {
    std::string big(kMaxWebhookPayloadBytes + 1, ' ');
    auto r = verify_webhook(big, header_at(kNow, big), kVectorSecret, kNow, 300);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kDocumentTooLarge);
    EXPECT_EQ(r.error().message(), "webhook payload is larger than 1048576 bytes");
    // At the limit a (signed) payload is read: here it is not an event.
    big.pop_back();
    const Error e = refused(big, header_at(kNow, big));
    EXPECT_EQ(e.message(), "webhook payload is not a JSON object");
}

TEST(StripeWebhook, ASignedPayloadThatIsNotAnEventIsRefused) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"not json at all", "webhook payload is not a JSON object"},
        {"[1,2]", "webhook payload is not a JSON object"},
        {R"({"type":"ping","data":{"object":{}}})", "webhook event has no valid 'id'"},
        {R"({"id":"evt_1","type":7,"data":{"object":{}}})", "webhook event has no valid 'type'"},
        {R"({"id":"evt_1","type":"ping"})", "webhook event has no 'data'"},
        {R"({"id":"evt_1","type":"ping","data":{"object":[]}})",
         "webhook event has no 'data.object'"},
        {R"({"id":"evt_1","type":"checkout.session.completed","data":{"object":{"object":"checkout.session"}}})",
         "checkout session event has no valid 'data.object.id'"},
    };
    for (const auto& [payload, message] : cases) {
        const Error e = refused(payload, header_at(kNow, payload));
        EXPECT_EQ(e.code(), ErrorCode::kInvalidInput) << payload;
        EXPECT_EQ(e.message(), message) << payload;
    }
}

TEST(StripeWebhook, EveryRefusalHasItsOwnMessage) {
    std::string big(kMaxWebhookPayloadBytes + 1, ' ');
    std::string tampered = kVectorPayload;
    tampered.back() = ' ';
    const std::vector<std::pair<std::string, std::string>> cases = {
        {kVectorPayload, ""},
        {kVectorPayload, "t=x,v1=" + kVectorV1},
        {kVectorPayload, "t=1700000000,v0=" + kVectorV1},
        {tampered, header_at(kNow, kVectorPayload)},
        {kVectorPayload, header_at(kNow - 1000, kVectorPayload)},
        {kVectorPayload, header_at(kNow + 1000, kVectorPayload)},
        {kVectorPayload, std::string(5000, 'x')},
        {big, header_at(kNow, big)},
        {"nope", header_at(kNow, "nope")},
    };
    std::set<std::string> messages;
    for (const auto& [payload, header] : cases) {
        auto r = verify_webhook(payload, header, kVectorSecret, kNow, 300);
        ASSERT_FALSE(r.has_value()) << header.substr(0, 40);
        messages.insert(r.error().message().substr(0, 40));  // the part that names the cause
    }
    EXPECT_EQ(messages.size(), cases.size());
}

TEST(StripeWebhook, ConfigurationErrorsAreInternal) {
    const std::string header = "t=1700000000,v1=" + kVectorV1;
    auto no_secret = verify_webhook(kVectorPayload, header, "", kNow, 300);
    ASSERT_FALSE(no_secret.has_value());
    EXPECT_EQ(no_secret.error().code(), ErrorCode::kInternalError);
    EXPECT_FALSE(no_secret.error().retryable());
    // An empty secret must never verify anything, even a signature made with the empty key.
    EXPECT_FALSE(verify_webhook(kVectorPayload, header_at(kNow, kVectorPayload, ""), "", kNow, 300)
                     .has_value());
    auto no_tolerance = verify_webhook(kVectorPayload, header, kVectorSecret, kNow, 0);
    ASSERT_FALSE(no_tolerance.has_value());
    EXPECT_EQ(no_tolerance.error().code(), ErrorCode::kInternalError);
}

TEST(StripeWebhook, ACompletedCheckoutFromTheFakeVerifiesAndCreditsOnce) {
    FakeStripe fake;
    const StripeConfig c = config_for(fake.url(), fake.secret_key());
    auto session = create_checkout_session(c, "org_pay", 4200, "k-pay");
    ASSERT_TRUE(session.has_value()) << session.error().message();
    const auto now = static_cast<int64_t>(std::time(nullptr));
    const auto signed_event = fake.completed_event(session->id, now);
    EXPECT_TRUE(signed_event.event_id.starts_with("evt_"));

    auto event = verify_webhook(signed_event.payload, signed_event.signature_header,
                                c.webhook_secret, now, c.tolerance_seconds);
    ASSERT_TRUE(event.has_value()) << event.error().message();
    EXPECT_EQ(event->id, signed_event.event_id);
    EXPECT_EQ(event->type, "checkout.session.completed");
    ASSERT_TRUE(event->checkout.has_value());
    EXPECT_EQ(event->checkout->session_id, session->id);
    EXPECT_EQ(event->checkout->client_reference_id, "org_pay");
    EXPECT_EQ(event->checkout->metadata_org_id, "org_pay");
    EXPECT_EQ(event->checkout->amount_total, 4200);
    EXPECT_EQ(event->checkout->currency, "usd");
    EXPECT_EQ(event->checkout->payment_status, "paid");
    EXPECT_TRUE(event->checkout->paid());

    auto credit = credit_from_event(*event, c.currency);
    ASSERT_TRUE(credit.has_value()) << credit.error().message();
    ASSERT_TRUE(credit->has_value());
    EXPECT_EQ((*credit)->session_id, session->id);
    EXPECT_EQ((*credit)->org_id, "org_pay");
    EXPECT_EQ((*credit)->amount_cents, 4200);

    // Signed with another secret: refused.
    const auto forged = fake.completed_event(session->id, now, "paid", "whsec_attacker");
    EXPECT_FALSE(verify_webhook(forged.payload, forged.signature_header, c.webhook_secret, now,
                                c.tolerance_seconds)
                     .has_value());
}

TEST(StripeWebhook, OtherEventsAndUnpaidSessionsCreditNothing) {
    FakeStripe fake;
    const auto now = static_cast<int64_t>(std::time(nullptr));
    const auto invoice = fake.signed_event(
        "invoice.paid", {{"id", "in_1"}, {"object", "invoice"}, {"amount_paid", 999}}, now);
    auto event =
        verify_webhook(invoice.payload, invoice.signature_header, fake.webhook_secret(), now, 300);
    ASSERT_TRUE(event.has_value()) << event.error().message();
    EXPECT_EQ(event->type, "invoice.paid");
    EXPECT_FALSE(event->checkout.has_value());
    auto none = credit_from_event(*event, "usd");
    ASSERT_TRUE(none.has_value());
    EXPECT_FALSE(none->has_value());

    const StripeConfig c = config_for(fake.url(), fake.secret_key());
    auto session = create_checkout_session(c, "org_late", 800, "k-late");
    ASSERT_TRUE(session.has_value());
    const auto unpaid = fake.completed_event(session->id, now, "unpaid");
    auto pending =
        verify_webhook(unpaid.payload, unpaid.signature_header, fake.webhook_secret(), now, 300);
    ASSERT_TRUE(pending.has_value());
    ASSERT_TRUE(pending->checkout.has_value());
    EXPECT_FALSE(pending->checkout->paid());
    auto later = credit_from_event(*pending, "usd");
    ASSERT_TRUE(later.has_value());
    EXPECT_FALSE(later->has_value());

    // The delayed payment succeeds later: that event credits.
    WebhookEvent succeeded = *pending;
    succeeded.type = "checkout.session.async_payment_succeeded";
    succeeded.checkout->payment_status = "paid";
    auto credit = credit_from_event(succeeded, "usd");
    ASSERT_TRUE(credit.has_value() && credit->has_value());
    EXPECT_EQ((*credit)->amount_cents, 800);
}

TEST(StripeWebhook, APaidButInconsistentSessionIsUnprocessable) {
    WebhookEvent base{.id = "evt_1",
                      .type = "checkout.session.completed",
                      .checkout = CheckoutSessionEvent{.session_id = "cs_1",
                                                       .client_reference_id = "org_a",
                                                       .metadata_org_id = "org_a",
                                                       .amount_total = 1000,
                                                       .payment_status = "paid",
                                                       .currency = "USD"}};
    ASSERT_TRUE(credit_from_event(base, "usd").value().has_value());  // currency: any case

    std::vector<WebhookEvent> bad(5, base);
    bad[0].checkout->metadata_org_id = "org_b";
    bad[1].checkout->client_reference_id.reset();
    bad[1].checkout->metadata_org_id.reset();
    bad[2].checkout->amount_total.reset();
    bad[3].checkout->amount_total = 0;
    bad[4].checkout->currency = "eur";
    for (const auto& e : bad) {
        auto r = credit_from_event(e, "usd");
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code(), ErrorCode::kUnprocessable);
        EXPECT_TRUE(contains(r.error().message(), "cs_1")) << r.error().message();
    }
    // Only metadata.org_id (no client_reference_id) is enough.
    WebhookEvent meta_only = base;
    meta_only.checkout->client_reference_id.reset();
    EXPECT_EQ(credit_from_event(meta_only, "usd").value()->org_id, "org_a");
}

}  // namespace
}  // namespace orchagent::runtime::stripe
