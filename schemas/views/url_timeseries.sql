-- One time series per URL across both grains: 5-minute rows from midnight (UTC) of the day
-- 24 hours ago onwards, daily rows before that. The cut is at a midnight so that no period is
-- in both grains: sum counts over any range, merge visitors_sketch for unique visitors.
-- Every metric column of the metrics tables, filled in from their schema (weir.schemas.view_sql).
SELECT site, url, bucket_start AS ts, '5m' AS granularity,
       {metric_columns}
FROM `{dataset}.url_metrics_5m`
WHERE bucket_start >= TIMESTAMP_TRUNC(TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 24 HOUR), DAY)
UNION ALL
SELECT site, url, TIMESTAMP(bucket_date) AS ts, '1d' AS granularity,
       {metric_columns}
FROM `{dataset}.url_metrics_1d`
WHERE TIMESTAMP(bucket_date) < TIMESTAMP_TRUNC(TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 24 HOUR), DAY)
