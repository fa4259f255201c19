variable "area" {
  description = "The area this deployment serves: one of CN, SG, SG-B, NA, SA."
  type        = string
  validation {
    condition     = contains(["CN", "SG", "SG-B", "NA", "SA"], var.area)
    error_message = "area must be one of CN, SG, SG-B, NA, SA."
  }
}

variable "node_count" {
  description = "Cluster nodes (Raft voters): odd, at least 3, so a majority survives a loss."
  type        = number
  default     = 3
  validation {
    condition     = var.node_count >= 3 && var.node_count % 2 == 1 && floor(var.node_count) == var.node_count
    error_message = "node_count must be an odd whole number of at least 3."
  }
}

variable "edge_count" {
  description = "Edges behind the area's load balancer."
  type        = number
  default     = 2
  validation {
    condition     = var.edge_count >= 1 && floor(var.edge_count) == var.edge_count
    error_message = "edge_count must be a whole number of at least 1."
  }
}

variable "availability_zones" {
  description = "Availability zones to spread nodes, edges and navs over (at least 2)."
  type        = list(string)
  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "availability_zones must name at least 2 zones."
  }
}

variable "vpc_cidr" {
  description = "The area's VPC range; subnets are /20s carved from it."
  type        = string
  default     = "10.40.0.0/16"
  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 16
    error_message = "vpc_cidr must be an IPv4 CIDR of /16 or larger."
  }
}

variable "ami_id" {
  description = "Linux AMI (systemd, curl; the GStreamer 1.22 libraries the binary links, and ffmpeg for video uploads' length and first frame) the instances boot; Meridian is downloaded at boot."
  type        = string
}

variable "meridian_binary_url" {
  description = "Where instances download the `meridian` binary (linux x86_64) at boot."
  type        = string
  validation {
    condition     = startswith(var.meridian_binary_url, "https://")
    error_message = "meridian_binary_url must be an https:// URL."
  }
}

variable "node_instance_type" {
  type    = string
  default = "m6i.large"
}

variable "edge_instance_type" {
  type    = string
  default = "c6i.large"
}

variable "media_instance_type" {
  description = "The media server's instance (forwarding, recording and mixing take CPU)."
  type        = string
  default     = "c6i.xlarge"
}

variable "nav_instance_type" {
  type    = string
  default = "t3.small"
}

variable "node_volume_gb" {
  description = "Data volume of each cluster node (Raft log and state)."
  type        = number
  default     = 100
}

variable "operator_token" {
  description = "Bearer token of the operator admin API on nodes and edges (at least 16 characters)."
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.operator_token) >= 16
    error_message = "operator_token must be at least 16 characters."
  }
}

variable "domain" {
  description = "DNS suffix: records are made under <area>.<domain> (e.g. api.sg.chat.example.com)."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone holding `domain`."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for api.<area>.<domain> and edge.<area>.<domain>: the load balancer terminates TLS."
  type        = string
}

variable "admin_cidrs" {
  description = "Ranges allowed to reach the admin ports (metrics, operator admin API)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "files_bucket" {
  description = "Name of the area's file bucket (globally unique); empty: meridian-<area>-files-<domain with dashes>."
  type        = string
  default     = ""
  validation {
    condition     = var.files_bucket == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.files_bucket))
    error_message = "files_bucket must be a valid S3 bucket name (3-63 lowercase letters, digits, dots and dashes)."
  }
}
