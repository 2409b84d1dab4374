/* SPDX-License-Identifier: MIT */
/* Route table of the todos service. Fixed paths come before "/:id" so they win the match.
 * Per-todo rules beyond the role (creator, assignee) are checked in handlers.c. */
#include "services/service.h"
#include "services/todos/todos.h"

static const dtm_route_t routes[] = {
    {.method = "GET", .path = "/api/todos/stats", .handler = todos_stats, .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/todos/bulk-assign",
     .handler = todos_bulk_assign,
     .roles = DTM_ROLES_STAFF},
    {.method = "GET", .path = "/api/todos", .handler = todos_list, .roles = DTM_ROLES_ANY},
    {.method = "POST", .path = "/api/todos", .handler = todos_create, .roles = DTM_ROLES_ANY},
    {.method = "GET", .path = "/api/todos/:id", .handler = todos_get, .roles = DTM_ROLES_ANY},
    {.method = "PATCH", .path = "/api/todos/:id", .handler = todos_update, .roles = DTM_ROLES_ANY},
    {.method = "DELETE", .path = "/api/todos/:id", .handler = todos_delete, .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/todos/:id/complete",
     .handler = todos_complete,
     .roles = DTM_ROLES_ANY},
    {.method = "POST",
     .path = "/api/todos/:id/reopen",
     .handler = todos_reopen,
     .roles = DTM_ROLES_ANY},
    {.method = "PATCH",
     .path = "/api/todos/:id/checklist/:itemId",
     .handler = todos_check_item,
     .roles = DTM_ROLES_ANY},
    {0},
};

const dtm_service_t dtm_svc_todos = {
    .name = "todos",
    .prefix = "/api/todos",
    .default_port = 3003,
    .routes = routes,
    .init = todos_init,
    .outbox = true, /* todo.assigned (docs/events.md) */
};
