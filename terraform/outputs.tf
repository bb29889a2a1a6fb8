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

output "worker_service_account" {
  description = "Service account the Dataflow jobs run as."
  value       = google_service_account.worker.email
}
