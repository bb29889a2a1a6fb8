# weir on Google Cloud: Pub/Sub, the raw archive, BigQuery tables and views, the worker's
# service account, and (optionally) the streaming Dataflow job.
#
# Every table's schema, partitioning, clustering and retention, and every view's SQL, come
# from ../schemas with file(): the pipeline and the infrastructure read the same bytes.

terraform {
  required_version = ">= 1.5"
  required_providers {
    google      = { source = "hashicorp/google", version = ">= 5.0, < 7.0" }
    google-beta = { source = "hashicorp/google-beta", version = ">= 5.0, < 7.0" }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

provider "google-beta" {
  project = var.project
  region  = var.region
}

locals {
  schemas_dir = "${path.module}/../schemas"
  catalog     = jsondecode(file("${local.schemas_dir}/tables.json"))
  tables      = local.catalog.tables
  views       = ["url_timeseries", "url_benchmarks", "top_urls_today", "referrers_today"]
  names = {
    topic        = "events"
    dead_letter  = "events-dead-letter"
    subscription = "events-sub"
    archive      = "${var.project}-${var.name_prefix}-archive"
    staging      = "${var.project}-${var.name_prefix}-staging"
    worker       = "${var.name_prefix}-dataflow-worker"
  }
}

# --- Pub/Sub -----------------------------------------------------------------------------

resource "google_pubsub_topic" "events" {
  name                       = local.names.topic
  message_retention_duration = var.events_retention
}

resource "google_pubsub_topic" "dead_letter" {
  name                       = local.names.dead_letter
  message_retention_duration = var.events_retention
}

resource "google_pubsub_subscription" "events" {
  name                       = local.names.subscription
  topic                      = google_pubsub_topic.events.id
  ack_deadline_seconds       = 60
  message_retention_duration = var.events_retention
  retain_acked_messages      = true # a day can be replayed with seek
  expiration_policy {
    ttl = "" # never expires
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

# --- Storage -----------------------------------------------------------------------------

resource "google_storage_bucket" "archive" {
  name                        = local.names.archive
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  lifecycle_rule {
    condition { age = var.archive_cold_after_days }
    action {
      type          = "SetStorageClass"
      storage_class = "COLDLINE"
    }
  }
  lifecycle_rule {
    condition { age = var.archive_keep_days }
    action { type = "Delete" }
  }
}

resource "google_storage_bucket" "staging" {
  name                        = local.names.staging
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  lifecycle_rule {
    condition { age = 7 } # rebuild staging files and Dataflow temp files are short-lived
    action { type = "Delete" }
  }
}

# --- BigQuery ----------------------------------------------------------------------------

resource "google_bigquery_dataset" "weir" {
  dataset_id = var.dataset
  location   = var.region
}

resource "google_bigquery_table" "tables" {
  for_each            = local.tables
  dataset_id          = google_bigquery_dataset.weir.dataset_id
  table_id            = each.key
  description         = each.value.description
  schema              = file("${local.schemas_dir}/${each.value.schema}")
  clustering          = each.value.clustering
  deletion_protection = var.deletion_protection
  time_partitioning {
    type          = "DAY"
    field         = each.value.partition_field
    expiration_ms = each.value.expiration_days * 86400000
  }
}

resource "google_bigquery_table" "views" {
  for_each            = toset(local.views)
  dataset_id          = google_bigquery_dataset.weir.dataset_id
  table_id            = each.key
  deletion_protection = false
  view {
    query          = replace(file("${local.schemas_dir}/views/${each.key}.sql"), "{dataset}", "${var.project}.${var.dataset}")
    use_legacy_sql = false
  }
  depends_on = [google_bigquery_table.tables]
}

# --- The Dataflow worker: reads its subscription, writes its buckets and dataset, no more --

resource "google_service_account" "worker" {
  account_id   = local.names.worker
  display_name = "weir Dataflow worker"
}

resource "google_project_iam_member" "worker_dataflow" {
  project = var.project
  role    = "roles/dataflow.worker"
  member  = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_project_iam_member" "worker_bigquery_jobs" {
  project = var.project
  role    = "roles/bigquery.jobUser" # load jobs of rebuilds; not data access
  member  = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_pubsub_subscription_iam_member" "worker_subscriber" {
  subscription = google_pubsub_subscription.events.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_storage_bucket_iam_member" "worker_archive" {
  bucket = google_storage_bucket.archive.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_storage_bucket_iam_member" "worker_staging" {
  bucket = google_storage_bucket.staging.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_bigquery_dataset_iam_member" "worker_dataset" {
  dataset_id = google_bigquery_dataset.weir.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.worker.email}"
}

# --- The streaming job (Flex Template from templates/; see issue #6 and #3) ---------------

resource "google_dataflow_flex_template_job" "stream" {
  provider                = google-beta
  count                   = var.deploy_streaming_job ? 1 : 0
  name                    = "${var.name_prefix}-stream"
  region                  = var.region
  container_spec_gcs_path = var.template_gcs_path
  service_account_email   = google_service_account.worker.email
  temp_location           = "gs://${google_storage_bucket.staging.name}/tmp"
  on_delete               = "drain"
  parameters = {
    mode    = "stream"
    dataset = var.dataset
  }
}
