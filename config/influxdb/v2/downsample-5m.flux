// CareHub, InfluxDB 2.x task: 5-minute rollups built from the 1-minute tier in `sensors_agg`,
// written back to `sensors_agg` with tag tier=5m and the same F_mean/_min/_max/_sum/_count fields.
// min of mins, max of maxes, sum of sums and sum of counts are exact. A mean of the 1-minute means is
// not: a minute with one reading would weigh as much as a minute with sixty. So F_mean is rebuilt as
// sum(F_sum) / sum(F_count).
import "date"
import "strings"

// Starts a minute after the boundary, once the 1m task has written the last minute of the window.
option task = {name: "carehub-downsample-5m", every: 5m, offset: 1m}

// Whole 5-minute windows; the last 30 minutes are redone so late 1m rollups are picked up.
stop = date.truncate(t: now(), unit: 5m)
start = time(v: int(v: stop) - int(v: 30m))

tier =
    from(bucket: "sensors_agg")
        |> range(start: start, stop: stop)
        |> filter(fn: (r) => r.tier == "1m")
        |> filter(fn: (r) => r._measurement == "climate" or r._measurement == "power")
        |> drop(columns: ["tier"])

rollup = (suffix, agg) =>
    tier
        |> filter(fn: (r) => strings.hasSuffix(v: r._field, suffix: "_" + suffix))
        |> aggregateWindow(every: 5m, fn: agg, timeSrc: "_start", createEmpty: false)

sums = rollup(suffix: "sum", agg: sum)
counts = rollup(suffix: "count", agg: sum)

means =
    union(tables: [sums, counts |> toFloat()])
        |> map(
            fn: (r) =>
                ({r with
                    kind: if strings.hasSuffix(v: r._field, suffix: "_sum") then "sum" else "count",
                    _field: strings.trimSuffix(v: strings.trimSuffix(v: r._field, suffix: "_sum"), suffix: "_count") + "_mean",
                }),
        )
        // One table per series and field, whatever tags the devices sent, then sum and count side by side.
        |> group(columns: ["_start", "_stop", "_time", "_value", "kind"], mode: "except")
        |> pivot(rowKey: ["_time"], columnKey: ["kind"], valueColumn: "_value")
        |> filter(fn: (r) => exists r.sum and exists r.count and r.count > 0.0)
        |> map(fn: (r) => ({r with _value: r.sum / r.count}))
        |> drop(columns: ["sum", "count"])

union(tables: [rollup(suffix: "min", agg: min), rollup(suffix: "max", agg: max), sums, counts, means])
    |> set(key: "tier", value: "5m")
    |> to(bucket: "sensors_agg")
