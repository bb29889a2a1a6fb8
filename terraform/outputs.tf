output "topic" {
  description = "The topic collectors publish to."
  value       = google_pubsub_topic.events.id
}

output "subscription" {
  description = "The streaming pipeline's subscription."
  value       = google_pubsub_subscription.events.id
}

output "archive_bucket" {
  description = "Bucket of the raw archive (dt=YYYY-MM-DD/hour=HH/*.avro)."
  value       = google_storage_bucket.archive.url
}

output "staging_bucket" {
  description = "Bucket for Dataflow temp files and rebuild staging."
  value       = google_storage_bucket.staging.url
}

output "stream_service_account" {
  description = "Service account the streaming Dataflow job runs as."
  value       = google_service_account.stream.email
}

output "rebuild_service_account" {
  description = "Service account for rebuild jobs (weir rebuild --runner DataflowRunner --service_account_email=...)."
  value       = google_service_account.rebuild.email
}

output "collector_service_account" {
  description = "Service account the collector runs as: it may publish to the topic, nothing else."
  value       = google_service_account.collector.email
}

output "collector_url" {
  description = "The collector's address: pages embed <script defer src=\"<collector_url>/weir.js\" data-site=\"...\">."
  value       = var.deploy_collector ? google_cloud_run_v2_service.collector[0].uri : ""
}
