-- Today's (UTC) traffic sources per site: referrer categories and referrer domains.
SELECT site, dimension, value,
       SUM(pageviews) AS pageviews,
       HLL_COUNT.MERGE(visitors_sketch) AS visitors,
       SUM(engaged_seconds) AS engaged_seconds
FROM `{dataset}.breakdown_metrics_5m`
WHERE bucket_start >= TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), DAY)
  AND dimension IN ('referrer_category', 'referrer_domain')
GROUP BY site, dimension, value
