# Apps and an area catalog entry on a running `meridian dev` (or any Meridian area),
# managed through the operator admin API. See ../../README.md for building and
# installing the provider.

terraform {
  required_version = ">= 1.6"
  required_providers {
    meridian = {
      source  = "meridian.local/meridian/meridian"
      version = "0.1.0"
    }
  }
}

variable "endpoint" {
  description = "Admin API of the app's area: areas.<AREA>.edges[0].admin in meridian dev's endpoints.json."
  type        = string
}

variable "token" {
  description = "Operator token: operatorToken in endpoints.json."
  type        = string
  sensitive   = true
}

variable "app_name" {
  type    = string
  default = "terraform-demo"
}

variable "home_area" {
  description = "The area the endpoint serves; creating the app fails if it serves another."
  type        = string
  default     = "SG"
}

variable "routing_url" {
  description = "Where the prod environment's stored messages are posted; null: not routed."
  type        = string
  default     = null
}

variable "na_api_primary" {
  description = "Server API host the catalog names first for apps homed in NA."
  type        = string
  default     = "https://api-na.example.com"
}

variable "endpoints_file" {
  description = "meridian dev's endpoints.json, read for the area's Server API URL; null: not read."
  type        = string
  default     = null
}

provider "meridian" {
  endpoint = var.endpoint
  token    = var.token
}

resource "meridian_app" "demo" {
  name      = var.app_name
  home_area = var.home_area
}

resource "meridian_app_settings" "demo_prod" {
  app_key               = meridian_app.demo.prod_app_key
  offline_window_days   = 3
  multi_device          = true
  secure_domains        = ["https://chat.example.com"]
  routing_url           = var.routing_url
  routing_types         = [1, 3]
  callback_max_attempts = 8

  # Text messages in private and group conversations are held until the app server
  # answers; if it does not within 2 s, they are blocked.
  moderation_rule {
    url                = "https://app.example.com/meridian/moderate"
    conversation_types = [1, 3]
    object_names       = ["RC:TxtMsg"]
    timeout_ms         = 2000
    default_action     = "block"
  }
}

# How clients and app servers reach NA, kept in the catalog of the endpoint's area: its
# navs name these hosts for apps homed in NA.
resource "meridian_area" "na" {
  code           = "NA"
  nav_primary    = "nav-na.example.com"
  nav_backup     = "nav-na-backup.example.com"
  api_primary    = var.na_api_primary
  api_backup     = "https://api-na-backup.example.com"
  edge_discovery = "_meridian-edge._tcp.na.example.com"
  static_edges   = ["edge-na-1.example.com:443"]
  edge_tls       = true
}

data "meridian_endpoints" "dev" {
  count = var.endpoints_file == null ? 0 : 1
  file  = var.endpoints_file
}

output "server_api" {
  description = "The app's Server API base URL (with endpoints_file)."
  value       = one(data.meridian_endpoints.dev[*].areas[var.home_area].api[0])
}

output "home_area" {
  value = meridian_app.demo.home_area
}

output "prod_app_key" {
  value = meridian_app.demo.prod_app_key
}

output "prod_app_secret" {
  value     = meridian_app.demo.prod_app_secret
  sensitive = true
}

output "dev_app_key" {
  value = meridian_app.demo.dev_app_key
}

output "dev_app_secret" {
  value     = meridian_app.demo.dev_app_secret
  sensitive = true
}
