-- Today's URLs with their totals so far, today being each site's own day (its time zone in
-- `sites`; UTC for a site not set); order by what the dashboard ranks on.
SELECT m.site, m.url,
       SUM(m.pageviews) AS pageviews,
       HLL_COUNT.MERGE(m.visitors_sketch) AS visitors,
       SUM(m.engaged_seconds) AS engaged_seconds,
       SUM(m.video_starts) AS video_starts
FROM `{dataset}.url_metrics_5m` AS m
LEFT JOIN `{dataset}.sites` AS s ON s.site = m.site
WHERE m.bucket_start >= TIMESTAMP(DATE(CURRENT_TIMESTAMP(), COALESCE(s.timezone, 'UTC')), COALESCE(s.timezone, 'UTC'))
GROUP BY m.site, m.url
