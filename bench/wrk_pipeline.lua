-- wrk_pipeline.lua: HTTP/1.1 pipelining for wrk. Each connection writes 16 requests for the
-- URL's path in one send, and wrk counts each of the 16 responses as a request, so the figure
-- is responses per second at pipeline depth 16 (the TechEmpower "plaintext" shape).
--
--   build-release/demo/http_server --port 8080 &
--   wrk -t1 -c256 -d10s -s bench/wrk_pipeline.lua http://127.0.0.1:8080/
--   wrk -t1 -c256 -d10s -s bench/wrk_pipeline.lua http://127.0.0.1:8080/ -- 32   (another depth)
--
-- Point it at nginx the same way (a location answering the same fixed body) to compare.

local depth = 16

init = function(args)
  if args[1] ~= nil then depth = tonumber(args[1]) end
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, wrk.path)
  end
  req = table.concat(r)
end

request = function()
  return req
end
