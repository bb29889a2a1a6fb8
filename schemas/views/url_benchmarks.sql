-- Each 5-minute bucket beside the same bucket one week earlier (week-ago benchmarking).
-- The *_week_ago columns are NULL where the URL had no row a week before.
SELECT cur.site, cur.url, cur.bucket_start,
       cur.pageviews, week.pageviews AS pageviews_week_ago,
       cur.visitors, week.visitors AS visitors_week_ago,
       cur.engaged_seconds, week.engaged_seconds AS engaged_seconds_week_ago
FROM `{dataset}.url_metrics_5m` AS cur
LEFT JOIN `{dataset}.url_metrics_5m` AS week
  ON week.site = cur.site AND week.url = cur.url
 AND week.bucket_start = TIMESTAMP_SUB(cur.bucket_start, INTERVAL 7 DAY)
