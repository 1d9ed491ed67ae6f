// CareHub, InfluxDB 2.x task: 1-minute rollups of the numeric readings.
// Reads the raw bucket `sensors`, writes bucket `sensors_agg` with tag tier=1m and, per field F,
// the fields F_mean, F_min, F_max, F_sum, F_count. The 5m task builds on F_sum/F_count, so keep both.
// Only `climate` and `power` are rolled up: every field they carry is a float (the gateway writes all
// numbers as floats). `state` and `event` hold booleans and strings and stay raw only (90 days).
import "date"

option task = {name: "carehub-downsample-1m", every: 1m, offset: 15s}

// Whole minutes only: a window cut in two would overwrite a correct rollup with a partial one.
// The last 10 minutes are recomputed on every run so that readings the gateway replays late (after a
// network cut) still count; rewriting a point with the same series and time replaces it, so the
// overlap never doubles anything. Older late data: run this script by hand over a wider range.
stop = date.truncate(t: now(), unit: 1m)
start = time(v: int(v: stop) - int(v: 10m))

raw =
    from(bucket: "sensors")
        |> range(start: start, stop: stop)
        |> filter(fn: (r) => r._measurement == "climate" or r._measurement == "power")

rollup = (agg, suffix) =>
    raw
        |> aggregateWindow(every: 1m, fn: agg, timeSrc: "_start", createEmpty: false)
        |> map(fn: (r) => ({r with _field: r._field + "_" + suffix}))

union(
    tables: [
        rollup(agg: mean, suffix: "mean"),
        rollup(agg: min, suffix: "min"),
        rollup(agg: max, suffix: "max"),
        rollup(agg: sum, suffix: "sum"),
        rollup(agg: count, suffix: "count"),
    ],
)
    |> set(key: "tier", value: "1m")
    |> to(bucket: "sensors_agg")
