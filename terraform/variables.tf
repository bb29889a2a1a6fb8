variable "project" {
  description = "Google Cloud project id that holds the whole stack."
  type        = string
}

variable "region" {
  description = "Region for Dataflow, the buckets and the BigQuery dataset location (e.g. europe-west1)."
  type        = string
}

variable "dataset" {
  description = "BigQuery dataset of weir's tables and views."
  type        = string
  default     = "web_analytics"
}

variable "name_prefix" {
  description = "Prefix of every resource name, so several weir stacks can share a project."
  type        = string
  default     = "weir"
}

variable "archive_cold_after_days" {
  description = "Days after which raw archive objects move to colder storage."
  type        = number
  default     = 30
}

variable "archive_keep_days" {
  description = "Days the raw archive is kept (2 years: any day can be rebuilt while its 1-day buckets are kept)."
  type        = number
  default     = 730
}

variable "events_retention" {
  description = "How long Pub/Sub keeps messages, acknowledged or not, so a day can be replayed (seek)."
  type        = string
  default     = "604800s"
}

variable "max_delivery_attempts" {
  description = "Deliveries of one message before it goes to the dead-letter topic."
  type        = number
  default     = 10
}

variable "deploy_streaming_job" {
  description = "Launch the streaming Flex Template job (needs template_gcs_path)."
  type        = bool
  default     = false
}

variable "template_gcs_path" {
  description = "gs:// path of the Flex Template spec built from templates/ (empty until built)."
  type        = string
  default     = ""
}

variable "deletion_protection" {
  description = "Protect the BigQuery tables from terraform destroy."
  type        = bool
  default     = true
}

variable "template_image" {
  description = "The Flex Template's image (templates/Makefile IMAGE), also the workers' sdk_container_image."
  type        = string
  default     = ""
}

variable "max_workers" {
  description = "Autoscaling ceiling of the streaming job (see docs/operations.md for sizing)."
  type        = number
  default     = 3
}

variable "worker_machine_type" {
  description = "Machine type of the streaming job's workers."
  type        = string
  default     = "n2-standard-2"
}

variable "cdc_max_staleness" {
  description = "max_staleness of the live 5-minute tables (CDC upserts): how stale a query may read them."
  type        = string
  default     = "0-0 0 0:5:0"
}

variable "subnetwork" {
  description = "Subnetwork of the Dataflow workers (regions/REGION/subnetworks/NAME), with Private Google Access: workers get no public IP. Empty: the default network's."
  type        = string
  default     = ""
}

variable "deploy_daily_closes" {
  description = "Close each site's days by themselves: a Cloud Run job (template_image) that Cloud Scheduler runs every close_schedule, rebuilding and verifying every day that has ended (weir daily run --once)."
  type        = bool
  default     = true
}

variable "close_schedule" {
  description = "Cloud Scheduler cron of the daily closes' checks (a check closes only what is due, so a frequent one is cheap)."
  type        = string
  default     = "*/15 * * * *"
}

variable "deploy_collector" {
  description = "Run the collector (weir collect) as a public Cloud Run service from collector_image."
  type        = bool
  default     = true
}

variable "collector_image" {
  description = "The collector's image (templates/collector.Dockerfile; make -C templates collector-image)."
  type        = string
  default     = ""
}

variable "collector_min_instances" {
  description = "Collector instances kept warm (at least 1: a cold start delays the first hits of a quiet hour)."
  type        = number
  default     = 1
}

variable "collector_max_instances" {
  description = "Most collector instances Cloud Run may run (bounds cost under a flood)."
  type        = number
  default     = 20
}

variable "collector_concurrency" {
  description = "Requests one collector instance takes at once."
  type        = number
  default     = 80
}

variable "collector_trusted_proxies" {
  description = "Proxies whose X-Forwarded-For the collector believes: cloud-run (Cloud Run's front end), plus google-lb and the load balancer's address if one is in front."
  type        = list(string)
  default     = ["cloud-run"]
}

variable "collector_sites" {
  description = "Sites the collector takes events for (weir collect --site); empty: any."
  type        = list(string)
  default     = []
}

variable "collector_cors_origins" {
  description = "Origins whose pages may send events (weir collect --cors-origin); empty: any."
  type        = list(string)
  default     = []
}
