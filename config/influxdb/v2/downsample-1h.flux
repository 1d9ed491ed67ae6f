// CareHub, InfluxDB 2.x task: 1-hour rollups built from the 5-minute tier in `sensors_agg`,
// written back to `sensors_agg` with tag tier=1h and the same F_mean/_min/_max/_sum/_count fields.
// min of mins, max of maxes, sum of sums and sum of counts are exact. A mean of the 5-minute means is
// not: a quiet 5 minutes would weigh as much as a busy one. So F_mean is rebuilt as
// sum(F_sum) / sum(F_count).
import "date"
import "strings"

// Starts 5 minutes after the hour, once the 5m task has written the last 5 minutes of the hour.
option task = {name: "carehub-downsample-1h", every: 1h, offset: 5m}

// Whole hours; the last 3 hours are redone so late 5m rollups are picked up.
stop = date.truncate(t: now(), unit: 1h)
start = time(v: int(v: stop) - int(v: 3h))

tier =
    from(bucket: "sensors_agg")
        |> range(start: start, stop: stop)
        |> filter(fn: (r) => r.tier == "5m")
        |> filter(fn: (r) => r._measurement == "climate" or r._measurement == "power")
        |> drop(columns: ["tier"])

rollup = (suffix, agg) =>
    tier
        |> filter(fn: (r) => strings.hasSuffix(v: r._field, suffix: "_" + suffix))
        |> aggregateWindow(every: 1h, fn: agg, timeSrc: "_start", createEmpty: false)

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
    |> set(key: "tier", value: "1h")
    |> to(bucket: "sensors_agg")
