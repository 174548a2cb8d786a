-- wrk script for the decision API benchmark: POST /v1/authorize with the
-- seed request's shape, cycling through USERS users (user0000...) and a
-- few resources and trust scores, so the server's per-worker user cache
-- and the policy index see a realistic spread.  The bearer token comes
-- from ZTIAM_TOKEN, so the secret never appears on a command line.
local token = os.getenv("ZTIAM_TOKEN")
if token == nil or token == "" then
	error("ZTIAM_TOKEN is not set")
end
local users = tonumber(os.getenv("USERS") or "1000")
local appid = os.getenv("APPID") or "eihxiidhh23s"
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"

local n = 0
request = function()
	n = n + 1
	local u = string.format("user%04d", n % users)
	local body = string.format(
	    '{"appid":"%s","user":"%s","action":"getArticleID",' ..
	    '"resource":"resources:articles:a%d",' ..
	    '"context":{"remoteIP":"192.168.%d.5","trustScore":"%d"}}',
	    appid, u, n % 50, n % 4, 40 + n % 60)
	return wrk.format(nil, "/v1/authorize", nil, body)
end
