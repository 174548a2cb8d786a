-- wrk script for the OCSP benchmark: with OCSP_MODE=post it POSTs the
-- DER OCSPRequest in the file OCSP_REQ; with OCSP_MODE=get the request
-- is already in the URL and this only names the media type it accepts.
local mode = os.getenv("OCSP_MODE")
if mode == "post" then
	local f = assert(io.open(os.getenv("OCSP_REQ"), "rb"))
	wrk.body = f:read("*a")
	f:close()
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/ocsp-request"
end
wrk.headers["Accept"] = "application/ocsp-response"
