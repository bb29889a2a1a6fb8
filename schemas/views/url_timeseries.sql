-- One time series per URL across both grains: 5-minute rows from midnight (UTC) of the day
-- 24 hours ago onwards, daily rows before that. The cut is at a midnight so that no period is
-- in both grains: sum counts over any range, merge visitors_sketch for unique visitors.
SELECT site, url, bucket_start AS ts, '5m' AS granularity,
       pageviews, visitors, visitors_sketch, new_visitors, returning_visitors, engaged_seconds,
       video_starts, bot_pageviews, sessions, custom_events
FROM `{dataset}.url_metrics_5m`
WHERE bucket_start >= TIMESTAMP_TRUNC(TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 24 HOUR), DAY)
UNION ALL
SELECT site, url, TIMESTAMP(bucket_date) AS ts, '1d' AS granularity,
       pageviews, visitors, visitors_sketch, new_visitors, returning_visitors, engaged_seconds,
       video_starts, bot_pageviews, sessions, custom_events
FROM `{dataset}.url_metrics_1d`
WHERE TIMESTAMP(bucket_date) < TIMESTAMP_TRUNC(TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 24 HOUR), DAY)
