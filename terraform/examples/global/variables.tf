variable "domain" {
  description = "DNS suffix; each area's names live under <area>.<domain>."
  type        = string
}

variable "route53_zone_ids" {
  description = "Hosted zone for `domain`, per area (China regions use their own Route 53)."
  type        = map(string)
}

variable "certificate_arns" {
  description = "ACM certificate for api.<area>.<domain> and edge.<area>.<domain>, per area."
  type        = map(string)
}

variable "ami_ids" {
  description = "Linux AMI per area (AMIs are regional)."
  type        = map(string)
}

variable "meridian_binary_url" {
  type = string
}

variable "operator_token" {
  type      = string
  sensitive = true
}

variable "admin_cidrs" {
  type    = list(string)
  default = []
}

variable "tags" {
  type    = map(string)
  default = { "managed-by" = "terraform" }
}

variable "skip_aws_checks" {
  description = "Skip the AWS provider's credential and metadata checks (offline plans in CI)."
  type        = bool
  default     = false
}
