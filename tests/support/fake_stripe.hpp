// A fake Stripe for tests, on FakeHttpServer: POST /v1/checkout/sessions as Stripe's API
// answers it (bearer secret key, form-encoded parameters, Idempotency-Key replay), sessions
// remembered, failure on demand; and signed webhook events (Stripe-Signature: t=...,v1=...)
// for a remembered session, to POST to the daemon's webhook route.
//
// The signature is computed here with OpenSSL's EVP_Q_mac, independently of the code under
// test (runtime/billing/stripe.cpp uses HMAC()).
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/fake_http.hpp"

namespace orchagent::testing {

class FakeStripe {
  public:
    static constexpr std::string_view kSecretKey = "sk_test_fake51Hq8vKx0123456789abcdef";
    static constexpr std::string_view kWebhookSecret = "whsec_fake7dM2pQ0123456789abcdef";

    struct Session {
        std::string id;   // cs_test_...
        std::string url;  // https://checkout.stripe.test/c/pay/cs_test_...
        std::string client_reference_id;
        int64_t amount_cents = 0;  // line_items[0][price_data][unit_amount] x quantity
        std::string currency;
        std::map<std::string, std::string> metadata;  // metadata[k] = v
        std::map<std::string, std::string> form;      // every parameter, decoded
        std::string idempotency_key;                  // "" when none was sent
    };

    struct SignedEvent {
        std::string event_id;          // evt_...
        std::string payload;           // the raw JSON body
        std::string signature_header;  // the Stripe-Signature header's value
    };

    explicit FakeStripe(std::string secret_key = std::string(kSecretKey),
                        std::string webhook_secret = std::string(kWebhookSecret))
        : secret_key_(std::move(secret_key)),
          webhook_secret_(std::move(webhook_secret)),
          server_([this](const FakeRequest& r) { return handle(r); }) {}

    // What StripeConfig::api_base should be.
    std::string url() const { return server_.url(); }
    const std::string& secret_key() const { return secret_key_; }
    const std::string& webhook_secret() const { return webhook_secret_; }
    std::vector<FakeRequest> requests() const { return server_.requests(); }

    // Every request is answered with `status` and `body` (default: a Stripe-shaped
    // api_error) until recover().
    void fail_with(int status = 500, std::string body = "") {
        std::lock_guard lock(mutex_);
        if (body.empty()) {
            body = R"({"error":{"type":"api_error","message":"An unknown error occurred"}})";
        }
        failure_ = FakeResponse{.status = status, .body = std::move(body)};
    }
    void recover() {
        std::lock_guard lock(mutex_);
        failure_.reset();
    }

    std::vector<Session> sessions() const {
        std::lock_guard lock(mutex_);
        std::vector<Session> out;
        for (const auto& [id, s] : sessions_) out.push_back(s);
        return out;
    }
    std::optional<Session> session(const std::string& id) const {
        std::lock_guard lock(mutex_);
        const auto it = sessions_.find(id);
        if (it == sessions_.end()) return std::nullopt;
        return it->second;
    }

    // A checkout.session.completed event for a remembered session, signed at `t` (default:
    // now) with the webhook secret (or `secret` when given, to test a wrong one).
    SignedEvent completed_event(const std::string& session_id, int64_t t = 0,
                                const std::string& payment_status = "paid",
                                std::optional<std::string> secret = std::nullopt) const {
        const auto s = session(session_id);
        if (!s) throw std::runtime_error("FakeStripe: no session " + session_id);
        nlohmann::json object = {
            {"id", s->id},
            {"object", "checkout.session"},
            {"mode", "payment"},
            {"status", "complete"},
            {"amount_total", s->amount_cents},
            {"currency", s->currency},
            {"client_reference_id", s->client_reference_id},
            {"metadata", s->metadata},
            {"payment_status", payment_status},
            {"url", nullptr},
        };
        return signed_event("checkout.session.completed", object, t, std::move(secret));
    }

    // Any event: {"id":"evt_...","object":"event","type":type,"data":{"object":object},...}.
    SignedEvent signed_event(const std::string& type, const nlohmann::json& object, int64_t t = 0,
                             std::optional<std::string> secret = std::nullopt) const {
        if (t == 0) t = static_cast<int64_t>(std::time(nullptr));
        const std::string event_id = "evt_test_" + hex_counter();
        const nlohmann::json event = {
            {"id", event_id},
            {"object", "event"},
            {"api_version", "2024-06-20"},
            {"created", t},
            {"livemode", false},
            {"pending_webhooks", 1},
            {"type", type},
            {"data", {{"object", object}}},
        };
        const std::string payload = event.dump();
        return SignedEvent{
            .event_id = event_id,
            .payload = payload,
            .signature_header = signature_header(payload, secret.value_or(webhook_secret_), t)};
    }

    // "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>".
    static std::string signature_header(std::string_view payload, std::string_view secret,
                                        int64_t t) {
        return "t=" + std::to_string(t) +
               ",v1=" + hmac_sha256_hex(secret, std::to_string(t) + "." + std::string(payload));
    }

    static std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
        std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
        size_t length = 0;
        if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                      reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(),
                      mac.size(), &length) == nullptr) {
            throw std::runtime_error("EVP_Q_mac failed");
        }
        static constexpr char kHex[] = "0123456789abcdef";
        std::string hex;
        for (size_t i = 0; i < length; ++i) {
            hex.push_back(kHex[mac[i] >> 4]);
            hex.push_back(kHex[mac[i] & 15]);
        }
        return hex;
    }

    // application/x-www-form-urlencoded -> name/value pairs, in order.
    static std::vector<std::pair<std::string, std::string>> form_decode(std::string_view body) {
        std::vector<std::pair<std::string, std::string>> out;
        size_t pos = 0;
        while (pos < body.size()) {
            size_t amp = body.find('&', pos);
            if (amp == std::string_view::npos) amp = body.size();
            const std::string_view item = body.substr(pos, amp - pos);
            const size_t eq = item.find('=');
            out.emplace_back(
                percent_decode(item.substr(0, eq)),
                eq == std::string_view::npos ? "" : percent_decode(item.substr(eq + 1)));
            pos = amp + 1;
        }
        return out;
    }

  private:
    static std::string percent_decode(std::string_view text) {
        std::string out;
        for (size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '+') {
                out.push_back(' ');
            } else if (text[i] == '%' && i + 2 < text.size() &&
                       std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
                       std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
                out.push_back(
                    static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
                i += 2;
            } else {
                out.push_back(text[i]);
            }
        }
        return out;
    }

    static FakeResponse stripe_error(int status, std::string_view type, std::string message,
                                     std::string param = "") {
        nlohmann::json error = {{"type", type}, {"message", std::move(message)}};
        if (!param.empty()) error["param"] = std::move(param);
        return FakeResponse{.status = status, .body = nlohmann::json{{"error", error}}.dump()};
    }

    // Unique across instances too (a random prefix per fake), so ids never collide in a
    // daemon's store that outlives one fake.
    std::string hex_counter() const {
        std::lock_guard lock(counter_mutex_);
        char buf[40];
        std::snprintf(buf, sizeof buf, "%08x%012llx", salt_,
                      static_cast<unsigned long long>(++counter_));
        return buf;
    }

    FakeResponse handle(const FakeRequest& r) {
        {
            std::lock_guard lock(mutex_);
            if (failure_) return *failure_;
        }
        if (r.method != "POST" || r.target != "/v1/checkout/sessions") {
            return stripe_error(404, "invalid_request_error",
                                "Unrecognized request URL (" + r.method + ": " + r.target + ").");
        }
        const auto auth = r.headers.find("authorization");
        if (auth == r.headers.end() || auth->second != "Bearer " + secret_key_) {
            std::string shown = auth == r.headers.end() ? "" : auth->second;
            if (shown.starts_with("Bearer ")) shown = shown.substr(7);
            // Stripe masks all but the last four characters.
            const std::string masked = shown.size() > 12 ? shown.substr(0, 8) +
                                                               std::string(shown.size() - 12, '*') +
                                                               shown.substr(shown.size() - 4)
                                                         : "****";
            return stripe_error(401, "invalid_request_error",
                                "Invalid API Key provided: " + masked);
        }
        Session s;
        for (auto& [name, value] : form_decode(r.body)) {
            if (name.starts_with("metadata[") && name.ends_with("]")) {
                s.metadata[name.substr(9, name.size() - 10)] = value;
            }
            s.form[name] = std::move(value);
        }
        for (const char* required : {"mode", "line_items[0][price_data][currency]",
                                     "line_items[0][price_data][product_data][name]",
                                     "line_items[0][price_data][unit_amount]",
                                     "line_items[0][quantity]", "success_url", "cancel_url"}) {
            if (!s.form.contains(required) || s.form[required].empty()) {
                return stripe_error(400, "invalid_request_error",
                                    std::string("Missing required param: ") + required + ".",
                                    required);
            }
        }
        if (s.form["mode"] != "payment") {
            return stripe_error(400, "invalid_request_error", "Invalid mode.", "mode");
        }
        int64_t unit = 0, quantity = 0;
        try {
            unit = std::stoll(s.form["line_items[0][price_data][unit_amount]"]);
            quantity = std::stoll(s.form["line_items[0][quantity]"]);
        } catch (const std::exception&) {
            return stripe_error(400, "invalid_request_error", "Invalid integer.",
                                "line_items[0][price_data][unit_amount]");
        }
        if (unit <= 0 || quantity <= 0) {
            return stripe_error(400, "invalid_request_error", "Invalid positive integer.",
                                "line_items[0][price_data][unit_amount]");
        }
        s.amount_cents = unit * quantity;
        s.currency = s.form["line_items[0][price_data][currency]"];
        s.client_reference_id = s.form["client_reference_id"];
        const auto key = r.headers.find("idempotency-key");
        s.idempotency_key = key == r.headers.end() ? "" : key->second;

        std::lock_guard lock(mutex_);
        if (!s.idempotency_key.empty()) {
            const auto seen = by_idempotency_key_.find(s.idempotency_key);
            if (seen != by_idempotency_key_.end()) {
                const Session& earlier = sessions_.at(seen->second);
                if (earlier.form != s.form) {
                    return stripe_error(
                        400, "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with.");
                }
                return FakeResponse{.body = session_json(earlier).dump()};
            }
        }
        s.id = "cs_test_" + hex_counter();
        s.url = "https://checkout.stripe.test/c/pay/" + s.id;
        if (!s.idempotency_key.empty()) by_idempotency_key_[s.idempotency_key] = s.id;
        sessions_[s.id] = s;
        return FakeResponse{.body = session_json(s).dump()};
    }

    static nlohmann::json session_json(const Session& s) {
        return {
            {"id", s.id},
            {"object", "checkout.session"},
            {"mode", "payment"},
            {"status", "open"},
            {"url", s.url},
            {"amount_total", s.amount_cents},
            {"currency", s.currency},
            {"client_reference_id", s.client_reference_id},
            {"metadata", s.metadata},
            {"payment_status", "unpaid"},
        };
    }

    std::string secret_key_;
    std::string webhook_secret_;
    mutable std::mutex mutex_;
    std::map<std::string, Session> sessions_;
    std::map<std::string, std::string> by_idempotency_key_;  // key -> session id
    std::optional<FakeResponse> failure_;
    mutable std::mutex counter_mutex_;
    mutable uint64_t counter_ = 0;
    unsigned salt_ = std::random_device{}();
    FakeHttpServer server_;  // last: destroyed first, so no handler outlives the state above
};

}  // namespace orchagent::testing
