# All five Meridian areas on AWS, one module instance per area, each in its own region.
# An app's data stays in its home area: the areas share nothing but DNS.

terraform {
  required_version = ">= 1.7"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 6.0"
    }
  }
}

locals {
  # area => (region, zones, VPC range)
  areas = {
    CN   = { region = "cn-northwest-1", zones = ["cn-northwest-1a", "cn-northwest-1b", "cn-northwest-1c"], cidr = "10.10.0.0/16" }
    SG   = { region = "ap-southeast-1", zones = ["ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"], cidr = "10.20.0.0/16" }
    SG-B = { region = "ap-southeast-3", zones = ["ap-southeast-3a", "ap-southeast-3b", "ap-southeast-3c"], cidr = "10.30.0.0/16" }
    NA   = { region = "us-east-1", zones = ["us-east-1a", "us-east-1b", "us-east-1c"], cidr = "10.40.0.0/16" }
    SA   = { region = "sa-east-1", zones = ["sa-east-1a", "sa-east-1b", "sa-east-1c"], cidr = "10.50.0.0/16" }
  }
}

provider "aws" {
  alias                       = "cn"
  region                      = local.areas["CN"].region
  skip_credentials_validation = var.skip_aws_checks
  skip_requesting_account_id  = var.skip_aws_checks
  skip_metadata_api_check     = var.skip_aws_checks
}

provider "aws" {
  alias                       = "sg"
  region                      = local.areas["SG"].region
  skip_credentials_validation = var.skip_aws_checks
  skip_requesting_account_id  = var.skip_aws_checks
  skip_metadata_api_check     = var.skip_aws_checks
}

provider "aws" {
  alias                       = "sg_b"
  region                      = local.areas["SG-B"].region
  skip_credentials_validation = var.skip_aws_checks
  skip_requesting_account_id  = var.skip_aws_checks
  skip_metadata_api_check     = var.skip_aws_checks
}

provider "aws" {
  alias                       = "na"
  region                      = local.areas["NA"].region
  skip_credentials_validation = var.skip_aws_checks
  skip_requesting_account_id  = var.skip_aws_checks
  skip_metadata_api_check     = var.skip_aws_checks
}

provider "aws" {
  alias                       = "sa"
  region                      = local.areas["SA"].region
  skip_credentials_validation = var.skip_aws_checks
  skip_requesting_account_id  = var.skip_aws_checks
  skip_metadata_api_check     = var.skip_aws_checks
}

module "cn" {
  source              = "../../modules/aws-area"
  providers           = { aws = aws.cn }
  area                = "CN"
  availability_zones  = local.areas["CN"].zones
  vpc_cidr            = local.areas["CN"].cidr
  ami_id              = var.ami_ids["CN"]
  certificate_arn     = var.certificate_arns["CN"]
  route53_zone_id     = var.route53_zone_ids["CN"]
  domain              = var.domain
  meridian_binary_url = var.meridian_binary_url
  operator_token      = var.operator_token
  admin_cidrs         = var.admin_cidrs
  tags                = var.tags
}

module "sg" {
  source              = "../../modules/aws-area"
  providers           = { aws = aws.sg }
  area                = "SG"
  availability_zones  = local.areas["SG"].zones
  vpc_cidr            = local.areas["SG"].cidr
  ami_id              = var.ami_ids["SG"]
  certificate_arn     = var.certificate_arns["SG"]
  route53_zone_id     = var.route53_zone_ids["SG"]
  domain              = var.domain
  meridian_binary_url = var.meridian_binary_url
  operator_token      = var.operator_token
  admin_cidrs         = var.admin_cidrs
  tags                = var.tags
}

module "sg_b" {
  source              = "../../modules/aws-area"
  providers           = { aws = aws.sg_b }
  area                = "SG-B"
  availability_zones  = local.areas["SG-B"].zones
  vpc_cidr            = local.areas["SG-B"].cidr
  ami_id              = var.ami_ids["SG-B"]
  certificate_arn     = var.certificate_arns["SG-B"]
  route53_zone_id     = var.route53_zone_ids["SG-B"]
  domain              = var.domain
  meridian_binary_url = var.meridian_binary_url
  operator_token      = var.operator_token
  admin_cidrs         = var.admin_cidrs
  tags                = var.tags
}

module "na" {
  source              = "../../modules/aws-area"
  providers           = { aws = aws.na }
  area                = "NA"
  availability_zones  = local.areas["NA"].zones
  vpc_cidr            = local.areas["NA"].cidr
  ami_id              = var.ami_ids["NA"]
  certificate_arn     = var.certificate_arns["NA"]
  route53_zone_id     = var.route53_zone_ids["NA"]
  domain              = var.domain
  meridian_binary_url = var.meridian_binary_url
  operator_token      = var.operator_token
  admin_cidrs         = var.admin_cidrs
  tags                = var.tags
}

module "sa" {
  source              = "../../modules/aws-area"
  providers           = { aws = aws.sa }
  area                = "SA"
  availability_zones  = local.areas["SA"].zones
  vpc_cidr            = local.areas["SA"].cidr
  ami_id              = var.ami_ids["SA"]
  certificate_arn     = var.certificate_arns["SA"]
  route53_zone_id     = var.route53_zone_ids["SA"]
  domain              = var.domain
  meridian_binary_url = var.meridian_binary_url
  operator_token      = var.operator_token
  admin_cidrs         = var.admin_cidrs
  tags                = var.tags
}
