-- Today's (UTC) URLs with their totals so far; order by what the dashboard ranks on.
SELECT site, url,
       SUM(pageviews) AS pageviews,
       HLL_COUNT.MERGE(visitors_sketch) AS visitors,
       SUM(engaged_seconds) AS engaged_seconds,
       SUM(video_starts) AS video_starts
FROM `{dataset}.url_metrics_5m`
WHERE bucket_start >= TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), DAY)
GROUP BY site, url
