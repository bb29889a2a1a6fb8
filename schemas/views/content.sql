-- The latest metadata each page sent (title, section, authors, tags, the published time as
-- the page states it, its canonical link), with when weir first and last saw the page: one
-- row per (site, url), to join metric tables with. From human page views; the newest one
-- that carries a title wins (ties: the larger event_id). Heartbeats carry the same metadata.
SELECT site, url, title, section, authors, tags, published, canonical, first_seen, last_seen
FROM (
  SELECT site, url, title, section, authors, tags,
         JSON_VALUE(metadata, '$.published') AS published,
         JSON_VALUE(metadata, '$.canonical') AS canonical,
         MIN(event_ts) OVER (PARTITION BY site, url) AS first_seen,
         MAX(event_ts) OVER (PARTITION BY site, url) AS last_seen,
         ROW_NUMBER() OVER (
           PARTITION BY site, url ORDER BY IF(title IS NULL, 1, 0), event_ts DESC, event_id DESC
         ) AS newest
  FROM `{dataset}.events`
  WHERE action = 'pageview' AND NOT is_bot
)
WHERE newest = 1
