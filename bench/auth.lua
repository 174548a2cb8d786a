-- wrk script for the authenticated-GET benchmark: every request carries
-- the bearer token taken from the ZTIAM_TOKEN environment variable, so
-- the secret never appears on a command line.
local token = os.getenv("ZTIAM_TOKEN")
if token == nil or token == "" then
	error("ZTIAM_TOKEN is not set")
end
wrk.headers["Authorization"] = "Bearer " .. token
