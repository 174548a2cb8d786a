-- wrk script for the OAuth benchmark: POSTs the form in OAUTH_BODY with
-- the Authorization header in OAUTH_AUTH (Basic client credentials), both
-- from the environment so that no secret is on a command line.
local body = os.getenv("OAUTH_BODY")
local auth = os.getenv("OAUTH_AUTH")
if body == nil or auth == nil then
	error("OAUTH_BODY and OAUTH_AUTH must be set")
end
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = auth
