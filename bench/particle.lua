-- wrk script: Particle webhook deliveries, each a new reading (device, time) so every one
-- is stored. Device ids come from $IDS_FILE (written by `sunfleet seed --ids-out`); THREADS
-- must equal wrk's -t.
local ids = {}
local threads = {}
local secret = os.getenv("SECRET") or "sunfleet-demo-particle-secret"

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads - 1)
end

function init(args)
  for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
  counter = 0
  -- Weeks back (BASE_DAYS_AGO, default 30): plausible times, far from the live clock. Each
  -- run must start later than the previous one left off, or it only sends repeats.
  base = os.time() - tonumber(os.getenv("BASE_DAYS_AGO") or "30") * 24 * 3600
  nthreads = tonumber(os.getenv("THREADS") or "2")
end

function request()
  -- Each thread owns every nthreads-th device, so one device's readings arrive in order
  -- (the simulator covers Particle's occasional reordering).
  local n = #ids
  local k = counter * nthreads + tid
  local device = ids[(k % n) + 1]
  local step = math.floor(k / n)
  counter = counter + 1
  local t = os.date("!%Y-%m-%dT%H:%M:%SZ", base + step * 60)
  local solar = (counter * 37) % 5000
  local data = string.format(
    '{"time":"%s","solar_w":%d,"grid_w":%d,"load_w":%d,"motor_rpm":3400,"motor_on":true,"dc_bus_v":352.5,"temperature_c":31.5,"fault_code":0,"schedule_version":1}',
    t, solar, 100, solar + 100)
  local body = string.format(
    '{"event":"status","data":"%s","coreid":"%s","published_at":"%s","ttl":60,"public":false,"fw_version":17}',
    data:gsub('"', '\\"'), device, t)
  return wrk.format("POST", "/ingest/particle", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. secret,
  }, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("accepted/s %.0f  non-2xx+errors %d  p50 %.1f ms  p99 %.1f ms\n",
    (summary.requests - errors) / (summary.duration / 1e6), errors,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
