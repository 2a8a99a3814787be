-- wrk script: Particle webhook deliveries, each a new reading (device, time) so every one
-- is stored. Device ids come from $IDS_FILE (written by `sunfleet seed --ids-out`); THREADS
-- must equal wrk's -t.
--
-- wrk runs on the same two cores as the server, so every microsecond spent here is taken
-- from the server: the request is assembled from pieces fixed in init() with one
-- concatenation, and the time string is formatted once per pass over the fleet rather than
-- once per request. The bytes sent are those of `wrk.format` with string.format (checked
-- when this was changed), minus the order of the headers.
local ids = {}
local threads = {}
local secret = os.getenv("SECRET") or "sunfleet-demo-particle-secret"

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads - 1)
end

function init(args)
  for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
  n = #ids
  counter = 0
  -- Weeks back (BASE_DAYS_AGO, default 30): plausible times, far from the live clock. Each
  -- run must start later than the previous one left off, or it only sends repeats.
  base = os.time() - tonumber(os.getenv("BASE_DAYS_AGO") or "30") * 24 * 3600
  nthreads = tonumber(os.getenv("THREADS") or "2")
  head = "POST /ingest/particle HTTP/1.1\r\nHost: " .. wrk.headers["Host"]
    .. "\r\nContent-Type: application/json\r\nAuthorization: Bearer " .. secret
    .. "\r\nContent-Length: "
  step_formatted = -1
end

function request()
  -- Each thread owns every nthreads-th device, so one device's readings arrive in order
  -- (the simulator covers Particle's occasional reordering).
  local k = counter * nthreads + tid
  local device = ids[(k % n) + 1]
  local step = math.floor(k / n)
  counter = counter + 1
  if step ~= step_formatted then
    t = os.date("!%Y-%m-%dT%H:%M:%SZ", base + step * 60)
    step_formatted = step
  end
  local solar = (counter * 37) % 5000
  -- `data` is the device's JSON as a string (Particle's default), its quotes escaped.
  local body = '{"event":"status","data":"{\\"time\\":\\"' .. t .. '\\",\\"solar_w\\":' .. solar
    .. ',\\"grid_w\\":100,\\"load_w\\":' .. (solar + 100)
    .. ',\\"motor_rpm\\":3400,\\"motor_on\\":true,\\"dc_bus_v\\":352.5,\\"temperature_c\\":31.5,'
    .. '\\"fault_code\\":0,\\"schedule_version\\":1}","coreid":"' .. device .. '","published_at":"'
    .. t .. '","ttl":60,"public":false,"fw_version":17}'
  return head .. #body .. "\r\n\r\n" .. body
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("accepted/s %.0f  non-2xx+errors %d  p50 %.1f ms  p99 %.1f ms\n",
    (summary.requests - errors) / (summary.duration / 1e6), errors,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
