// GET /billing/balance, /billing/transactions (also /billing/history, /billing/credits);
// POST /billing/checkout and the payment provider's webhook (routes_payments.cpp).
// The balance is the last ledger row's balance_after_cents: every row is written in the
// same transaction as the change it records (CONTRACT.md section 5).
#include <fmt/format.h>

#include "api/app.hpp"

namespace orchagent::api {
namespace {

Json transaction_json(const store::CreditTransaction& t) {
    return {{"id", t.id},
            {"amount_cents", t.amount_cents},
            {"balance_after_cents", t.balance_after_cents},
            {"transaction_type", t.type},
            {"type", t.type},
            {"reference_id", t.reference_id},
            {"created_at", format_rfc3339(t.created_at)}};
}

// The ledger newest first, as a JSON array (the contract's shape). Paging: ?limit (1..500,
// default 50) and ?cursor=<X-Next-Cursor of the previous page>.
http::Response list_transactions(App& app, http::Request& request, const runtime::Principal& who) {
    auto limit = int_param(request, "limit", 50, 1, 500);
    if (!limit) return error_of(limit.error(), request);
    auto cursor = int_param(request, "cursor", 0, 0, INT64_MAX);
    if (!cursor) return error_of(cursor.error(), request);
    auto rows = app.store->list_transactions(who.org.id, *cursor, static_cast<int>(*limit));
    if (!rows) return error_of(rows.error(), request);
    Json list = Json::array();
    for (const auto& [seq, t] : *rows) list.push_back(transaction_json(t));
    http::Response response = json_response(200, list);
    if (static_cast<int64_t>(rows->size()) == *limit) {
        response.header("X-Next-Cursor", std::to_string(rows->back().first));
    }
    return response;
}

}  // namespace

void register_billing_routes(http::Router& router, App& app) {
    router.add("GET", "/billing/balance",
               authed(app, [&app](http::Request& request, const runtime::Principal& who) {
                   auto balance = app.store->balance(who.org.id);
                   if (!balance) return error_of(balance.error(), request);
                   return json_response(200, {{"balance_cents", *balance}, {"currency", "usd"}});
               }));
    for (const char* path : {"/billing/transactions", "/billing/history", "/billing/credits"}) {
        router.add("GET", path,
                   authed(app, [&app](http::Request& request, const runtime::Principal& who) {
                       return list_transactions(app, request, who);
                   }));
    }
}

}  // namespace orchagent::api
