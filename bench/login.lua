-- SPDX-License-Identifier: MIT
-- wrk script for the login storm: POST /api/auth/login with the credentials from the
-- environment (BENCH_EMAIL, BENCH_PASSWORD); counts answers by status.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email":"%s","password":"%s"}', os.getenv("BENCH_EMAIL"), os.getenv("BENCH_PASSWORD"))

local threads = {}
function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    statuses = {}
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local all = {}
    for _, t in ipairs(threads) do
        local s = t:get("statuses")
        for k, v in pairs(s) do
            all[k] = (all[k] or 0) + v
        end
    end
    local parts = {}
    for k, v in pairs(all) do
        table.insert(parts, k .. "=" .. v)
    end
    table.sort(parts)
    io.write("statuses: " .. table.concat(parts, " ") .. "\n")
end
