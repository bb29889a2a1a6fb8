-- Today's traffic sources per site (referrer categories and referrer domains), today being
-- each site's own day (its time zone in `sites`; UTC for a site not set).
SELECT m.site, m.dimension, m.value,
       SUM(m.pageviews) AS pageviews,
       HLL_COUNT.MERGE(m.visitors_sketch) AS visitors,
       SUM(m.engaged_seconds) AS engaged_seconds
FROM `{dataset}.breakdown_metrics_5m` AS m
LEFT JOIN `{dataset}.sites` AS s ON s.site = m.site
WHERE m.bucket_start >= TIMESTAMP(DATE(CURRENT_TIMESTAMP(), COALESCE(s.timezone, 'UTC')), COALESCE(s.timezone, 'UTC'))
  AND m.dimension IN ('referrer_category', 'referrer_domain')
GROUP BY m.site, m.dimension, m.value
