# Values for a dry run (`terraform plan -var-file=example.tfvars`); replace them all.
domain              = "chat.example.com"
meridian_binary_url = "https://downloads.example.com/meridian/linux-x86_64/meridian"
operator_token      = "replace-with-a-long-random-operator-token"
route53_zone_ids = {
  CN = "Z00000000000000000CN", SG = "Z00000000000000000SG", SG-B = "Z0000000000000000SGB",
  NA = "Z00000000000000000NA", SA = "Z00000000000000000SA"
}
certificate_arns = {
  CN   = "arn:aws-cn:acm:cn-northwest-1:123456789012:certificate/00000000-0000-0000-0000-000000000001"
  SG   = "arn:aws:acm:ap-southeast-1:123456789012:certificate/00000000-0000-0000-0000-000000000002"
  SG-B = "arn:aws:acm:ap-southeast-3:123456789012:certificate/00000000-0000-0000-0000-000000000003"
  NA   = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000004"
  SA   = "arn:aws:acm:sa-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000005"
}
ami_ids = {
  CN = "ami-00000000000000001", SG = "ami-00000000000000002", SG-B = "ami-00000000000000003",
  NA = "ami-00000000000000004", SA = "ami-00000000000000005"
}
