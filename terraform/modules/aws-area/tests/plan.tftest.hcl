# Plan-level checks of the module, offline: the AWS provider is mocked, so nothing is
# created and no credentials are needed.

mock_provider "aws" {
  # The media server's Elastic IP is in its configuration: give it one at plan time.
  override_during = plan
  mock_resource "aws_eip" {
    defaults = {
      public_ip = "203.0.113.7"
    }
  }
}

variables {
  area                = "SG"
  availability_zones  = ["ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"]
  ami_id              = "ami-0123456789abcdef0"
  meridian_binary_url = "https://downloads.example.com/meridian/linux-x86_64/meridian"
  operator_token      = "test-operator-token-0123456789"
  domain              = "chat.example.com"
  route53_zone_id     = "Z0123456789EXAMPLE"
  certificate_arn     = "arn:aws:acm:ap-southeast-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
}

run "an_area_plans_its_nodes_edges_navs_and_names" {
  command = plan

  assert {
    condition     = length(aws_instance.node) == 3
    error_message = "three cluster nodes by default"
  }
  assert {
    condition     = length(distinct([for n in aws_instance.node : n.private_ip])) == 3
    error_message = "every node has its own fixed private address"
  }
  assert {
    condition     = length(distinct([for n in aws_instance.node : cidrsubnet("${n.private_ip}/20", 0, 0)])) == 3
    error_message = "nodes spread over the zones' private subnets"
  }
  assert {
    condition = alltrue([for i, t in aws_launch_template.node :
    strcontains(base64decode(t.user_data), "node_id = ${i + 1}")])
    error_message = "each node's configuration names its own id"
  }
  assert {
    condition = alltrue([for t in aws_launch_template.node :
    length(regexall("addr = \"10\\.40\\.", base64decode(t.user_data))) == 3])
    error_message = "each node's configuration lists the three voters"
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.edge.user_data), "meridian edge --config")
    error_message = "edges run `meridian edge`"
  }
  assert {
    condition     = aws_autoscaling_group.edge.desired_capacity == 2
    error_message = "two edges by default"
  }
  assert {
    condition = (strcontains(base64decode(aws_launch_template.nav[0].user_data), "role = \"primary\"")
    && strcontains(base64decode(aws_launch_template.nav[1].user_data), "role = \"backup\""))
    error_message = "a primary and a backup nav"
  }
  assert {
    condition     = aws_route53_record.edge_srv.name == "_meridian-edge._tcp.sg.chat.example.com"
    error_message = "the edge SRV name navs discover edges by"
  }
  assert {
    condition     = aws_route53_record.edge_srv.records == toset(["0 0 443 edge.sg.chat.example.com."])
    error_message = "the SRV record points at the edges' load balancer"
  }
  assert {
    condition     = aws_route53_record.api.name == "api.sg.chat.example.com"
    error_message = "the Server API name"
  }
  assert {
    condition     = [for r in aws_route53_record.nav : r.name] == ["nav.sg.chat.example.com", "nav-backup.sg.chat.example.com"]
    error_message = "primary and backup nav names"
  }
  assert {
    condition     = output.api_url == "https://api.sg.chat.example.com"
    error_message = "the Server API URL"
  }
  assert {
    condition     = aws_s3_bucket.files.bucket == "meridian-sg-files-chat-example-com"
    error_message = "the area's file bucket is named for the area and the domain"
  }
  assert {
    condition = strcontains(base64decode(aws_launch_template.edge.user_data),
    "files = { store = \"s3\", bucket = \"meridian-sg-files-chat-example-com\", region = \"ap-southeast-1\" }")
    error_message = "edges store files in the area's bucket, in the area's region"
  }
  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.files.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
    error_message = "the file bucket is encrypted at rest"
  }
  assert {
    condition = (aws_s3_bucket_public_access_block.files.block_public_acls && aws_s3_bucket_public_access_block.files.block_public_policy
    && aws_s3_bucket_public_access_block.files.ignore_public_acls && aws_s3_bucket_public_access_block.files.restrict_public_buckets)
    error_message = "the file bucket is never public: downloads go through the edges' signed links"
  }
  assert {
    condition     = one(aws_s3_bucket_lifecycle_configuration.files.rule).abort_incomplete_multipart_upload[0].days_after_initiation == 1
    error_message = "parts of uploads an edge could not abort are collected after a day"
  }
  assert {
    condition     = output.files_bucket == "meridian-sg-files-chat-example-com"
    error_message = "the bucket is an output"
  }
  assert {
    condition = alltrue([for text in [
      "meridian media --config",
      "listen = \"0.0.0.0:8443\"",
      "advertised_ip = \"203.0.113.7\"",
      "files = { store = \"s3\", bucket = \"meridian-sg-files-chat-example-com\", region = \"ap-southeast-1\" }",
    ] : strcontains(base64decode(aws_launch_template.media.user_data), text)])
    error_message = "the media server advertises its Elastic IP and records into the area's bucket"
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.edge.user_data), "media = \"https://media.sg.chat.example.com:8443\"")
    error_message = "edges hand clients the media server's WHIP/WHEP URL"
  }
  assert {
    condition = toset([for rule in aws_security_group.media.ingress : "${rule.protocol}/${rule.from_port}"
    if contains(rule.cidr_blocks, "0.0.0.0/0")]) == toset(["tcp/8443", "udp/8443"])
    error_message = "media over UDP and TCP on one port from anywhere, nothing else public"
  }
  assert {
    condition     = aws_lb_listener.media.port == 8443 && aws_lb_listener.media.protocol == "TLS"
    error_message = "WHIP/WHEP over TLS at the load balancer"
  }
  assert {
    condition     = output.media_url == "https://media.sg.chat.example.com:8443" && aws_route53_record.media.name == "media.sg.chat.example.com"
    error_message = "the media server's name and URL"
  }
}

run "five_voters_plan_five_nodes" {
  command = plan
  variables {
    area       = "SG-B"
    node_count = 5
  }
  assert {
    condition     = length(aws_instance.node) == 5
    error_message = "five cluster nodes"
  }
  assert {
    condition     = output.edge_srv == "_meridian-edge._tcp.sg-b.chat.example.com"
    error_message = "area SG-B names records under sg-b"
  }
}

run "an_unknown_area_is_refused" {
  command = plan
  variables {
    area = "EU"
  }
  expect_failures = [var.area]
}

run "an_even_voter_count_is_refused" {
  command = plan
  variables {
    node_count = 4
  }
  expect_failures = [var.node_count]
}

run "a_single_voter_is_refused" {
  command = plan
  variables {
    node_count = 1
  }
  expect_failures = [var.node_count]
}

run "one_zone_is_refused" {
  command = plan
  variables {
    availability_zones = ["ap-southeast-1a"]
  }
  expect_failures = [var.availability_zones]
}

run "a_short_operator_token_is_refused" {
  command = plan
  variables {
    operator_token = "short"
  }
  expect_failures = [var.operator_token]
}
