// Credit top-ups end to end: POST /billing/checkout against a local fake of Stripe's API
// (started by the test), and Stripe's signed webhook crediting the balance exactly once.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "core/ids.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/fake_stripe.hpp"

namespace orchagent::testing {
namespace {

std::string write_file(const std::string& text) {
    const std::string path = "/tmp/orchagent-payments-" + random_hex(4) + ".yaml";
    std::ofstream(path) << text;
    return path;
}

class Payments : public ::testing::Test {
  protected:
    void SetUp() override {
        ::setenv("TEST_STRIPE_KEY", std::string(FakeStripe::kSecretKey).c_str(), 1);
        ::setenv("TEST_STRIPE_WHSEC", std::string(FakeStripe::kWebhookSecret).c_str(), 1);
        config_ = write_file("payments:\n  api_base: " + stripe_.url() +
                             "\n  secret_key_env: TEST_STRIPE_KEY\n"
                             "  webhook_secret_env: TEST_STRIPE_WHSEC\n"
                             "  success_url: https://app.example/credits/ok\n"
                             "  cancel_url: https://app.example/credits\n");
        daemon_ = std::make_unique<Daemon>(std::vector<std::string>{"--config", config_});
    }
    void TearDown() override {
        daemon_.reset();
        std::filesystem::remove(config_);
    }
    Reply checkout(const Json& body, std::vector<std::string> headers = {}) {
        return daemon_->request("POST", "/billing/checkout",
                                {.key = daemon_->admin_key(), .body = body.dump(), .headers = std::move(headers)});
    }
    Reply deliver(const FakeStripe::SignedEvent& e, std::string payload = "") {
        return daemon_->request("POST", "/billing/webhooks/stripe",
                                {.body = payload.empty() ? e.payload : payload,
                                 .headers = {"Stripe-Signature: " + e.signature_header}});
    }
    int64_t balance() { return daemon_->get("/billing/balance", daemon_->admin_key()).json()["balance_cents"]; }

    FakeStripe stripe_;
    std::string config_;
    std::unique_ptr<Daemon> daemon_;
};

TEST_F(Payments, CheckoutCreatesAStripeSessionForTheOrg) {
    Reply r = checkout({{"amount_usd", 12}});
    ASSERT_EQ(r.status, 200) << r.body;
    const Json j = r.json();
    EXPECT_EQ(j["amount_cents"], 1200);
    EXPECT_EQ(j["currency"], "usd");
    auto session = stripe_.session(j["session_id"]);
    ASSERT_TRUE(session);
    EXPECT_EQ(j["checkout_url"], session->url);
    EXPECT_EQ(session->amount_cents, 1200);
    const std::string org_id = daemon_->get("/org", daemon_->admin_key()).json()["id"];
    EXPECT_EQ(session->client_reference_id, org_id);
    EXPECT_EQ(session->form.at("success_url"), "https://app.example/credits/ok");
    EXPECT_EQ(stripe_.requests().back().headers.at("authorization"),
              "Bearer " + std::string(FakeStripe::kSecretKey));

    // The caller's Idempotency-Key makes a retry the same session.
    Reply a = checkout({{"amount_cents", 700}}, {"Idempotency-Key: topup-1"});
    Reply b = checkout({{"amount_cents", 700}}, {"Idempotency-Key: topup-1"});
    ASSERT_EQ(a.status, 200) << a.body;
    ASSERT_EQ(b.status, 200) << b.body;
    EXPECT_EQ(a.json()["session_id"], b.json()["session_id"]);

    for (const Json& bad : {Json{{"amount_cents", 499}}, Json{{"amount_usd", 4}}, Json{{"amount_cents", "500"}},
                            Json{{"amount_cents", 500}, {"amount_usd", 5}}, Json::object(),
                            Json{{"amount_cents", 500}, {"coupon", "x"}}}) {
        Reply r2 = checkout(bad);
        EXPECT_EQ(r2.status, 400) << bad.dump() << " " << r2.body;
        EXPECT_EQ(r2.error_code(), "INVALID_INPUT");
    }
    EXPECT_EQ(daemon_->request("POST", "/billing/checkout", {.body = R"({"amount_cents":500})"}).status, 401);

    // Stripe down: retryable 503, nothing recorded.
    stripe_.fail_with(500);
    Reply down = checkout({{"amount_cents", 500}});
    EXPECT_EQ(down.status, 503) << down.body;
    EXPECT_TRUE(down.json()["error"]["is_retryable"]);
    EXPECT_EQ(down.body.find(FakeStripe::kSecretKey), std::string::npos);
}

TEST_F(Payments, SignedWebhookCreditsOncePerEventAndSession) {
    Reply r = checkout({{"amount_cents", 2500}});
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string session = r.json()["session_id"];
    const int64_t before = balance();

    // Refused: a wrong secret, a tampered body, a stale or future timestamp, no header.
    const int64_t now = std::time(nullptr);
    auto forged = stripe_.completed_event(session, now, "paid", "whsec_not_the_secret");
    EXPECT_EQ(deliver(forged).status, 400);
    auto genuine = stripe_.completed_event(session, now);
    std::string tampered = genuine.payload;
    tampered.replace(tampered.find("2500"), 4, "9999");
    EXPECT_EQ(deliver(genuine, tampered).status, 400);
    Reply stale = deliver(stripe_.completed_event(session, now - 1000));
    EXPECT_EQ(stale.status, 400);
    EXPECT_NE(stale.body.find("seconds old"), std::string::npos) << stale.body;
    EXPECT_EQ(deliver(stripe_.completed_event(session, now + 1000)).status, 400);
    EXPECT_EQ(daemon_->request("POST", "/billing/webhooks/stripe", {.body = genuine.payload}).status, 400);
    EXPECT_EQ(balance(), before);

    // An unpaid session (a delayed payment method) credits nothing yet.
    Reply unpaid = deliver(stripe_.completed_event(session, now, "unpaid"));
    ASSERT_EQ(unpaid.status, 200) << unpaid.body;
    EXPECT_FALSE(unpaid.json()["credited"]);
    EXPECT_EQ(balance(), before);

    // The genuine event credits once; its replay and a second event change nothing.
    Reply first = deliver(genuine);
    ASSERT_EQ(first.status, 200) << first.body;
    EXPECT_TRUE(first.json()["credited"]);
    EXPECT_EQ(balance(), before + 2500);
    Reply again = deliver(genuine);
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_FALSE(again.json()["credited"]);
    EXPECT_TRUE(again.json()["duplicate"]);
    Reply other = deliver(stripe_.completed_event(session, now));
    EXPECT_TRUE(other.json()["duplicate"]) << other.body;
    EXPECT_EQ(balance(), before + 2500);

    // The ledger says so: one topup naming the session.
    const Json ledger = daemon_->get("/billing/transactions", daemon_->admin_key()).json();
    int topups = 0;
    for (const auto& t : ledger) {
        if (t["transaction_type"] == "topup") {
            ++topups;
            EXPECT_EQ(t["reference_id"], session);
            EXPECT_EQ(t["amount_cents"], 2500);
            EXPECT_EQ(t["id"], first.json()["transaction_id"]);
        }
    }
    EXPECT_EQ(topups, 1);

    // An event of another kind is acknowledged and ignored.
    Reply ignored = deliver(stripe_.signed_event("customer.created", {{"id", "cus_1"}}, now));
    EXPECT_EQ(ignored.status, 200);
    EXPECT_FALSE(ignored.json()["credited"]);
}

TEST(PaymentsConfig, WithoutAProviderCheckoutSaysHowToAddCredits) {
    Daemon d;
    Reply r = d.request("POST", "/billing/checkout", {.key = d.admin_key(), .body = R"({"amount_cents":500})"});
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.error_code(), "SERVICE_UNAVAILABLE");
    EXPECT_FALSE(r.json()["error"]["is_retryable"]);
    EXPECT_NE(r.body.find("grant-credits"), std::string::npos);
    EXPECT_EQ(d.request("POST", "/billing/webhooks/stripe", {.body = "{}"}).status, 503);
}

TEST(PaymentsConfig, MissingSecretsStopTheStart) {
    const std::string config = write_file(
        "payments:\n  secret_key_env: ORCHAGENT_TEST_UNSET_KEY\n"
        "  webhook_secret_env: ORCHAGENT_TEST_UNSET_WHSEC\n"
        "  success_url: https://a.example/ok\n  cancel_url: https://a.example/no\n");
    ::unsetenv("ORCHAGENT_TEST_UNSET_KEY");
    EXPECT_THROW(Daemon({"--config", config}), std::runtime_error);
    std::filesystem::remove(config);
}

}  // namespace
}  // namespace orchagent::testing
