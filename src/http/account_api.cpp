// The caller's account: its webhook signing secret (API.md, Webhooks and Service endpoints).
// GET /v0/api/webhook-secret shows it; POST /v0/api/webhook-secret/rotate replaces it with a new
// random one and shows that. Deliveries are signed with the secret current at each attempt.
#include "http/api.h"

namespace dd::http {

void add_account_api(httplib::Server& http, Api& api) {
  Routes server(http, api);  // recorded for 405 answers (http/routes.h)
  server.Get("/v0/api/webhook-secret", guarded([&api](const auto& request, auto& response) {
               const std::string account = api.account(request);
               send_json(response,
                         {{"success", true},
                          {"webhookSecret", api.service.accounts().webhook_secret(account)}});
             }));
  server.Post("/v0/api/webhook-secret/rotate", guarded([&api](const auto& request, auto& response) {
                const std::string account = api.account(request);
                send_json(response, {{"success", true},
                                     {"webhookSecret",
                                      api.service.accounts().rotate_webhook_secret(account)}});
              }));
}

}  // namespace dd::http
