locals {
  node_user_data = [for n in local.nodes : templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    role       = "node"
    command    = "cluster run"
    binary_url = var.meridian_binary_url
    config = templatefile("${path.module}/templates/node.toml.tftpl", {
      area  = var.area
      id    = n.id
      ip    = n.ip
      rpc   = local.rpc
      admin = local.admin
      token = var.operator_token
      peers = local.peers
    })
  })]
  edge_user_data = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    role       = "edge"
    command    = "edge"
    binary_url = var.meridian_binary_url
    config = templatefile("${path.module}/templates/edge.toml.tftpl", {
      area     = var.area
      location = "aws-${local.label}"
      public   = local.public
      admin    = local.admin
      token    = var.operator_token
      peers    = local.peers
      bucket   = local.files_bucket
      region   = local.region
      media    = "https://${local.media_dns}:${local.media}"
    })
  })
  nav_user_data = [for role in ["primary", "backup"] : templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    role       = "nav"
    command    = "nav"
    binary_url = var.meridian_binary_url
    config = templatefile("${path.module}/templates/nav.toml.tftpl", {
      area  = var.area
      role  = role
      port  = local.nav
      peers = local.peers
      srv   = local.edge_srv
      api   = local.api_dns
      navs  = local.nav_dns
    })
  })]
}

# One launch template per node: each node's configuration names its own id and address.
resource "aws_launch_template" "node" {
  count         = var.node_count
  name_prefix   = "meridian-${local.label}-node-${count.index + 1}-"
  image_id      = var.ami_id
  instance_type = var.node_instance_type
  user_data     = base64encode(local.node_user_data[count.index])

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.node_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = false
    }
  }
  metadata_options {
    http_tokens = "required"
  }
  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = "meridian-${local.label}-node-${count.index + 1}", "meridian:role" = "node" })
  }
}

resource "aws_instance" "node" {
  count                  = var.node_count
  subnet_id              = aws_subnet.private[local.nodes[count.index].zone].id
  private_ip             = local.nodes[count.index].ip
  vpc_security_group_ids = [aws_security_group.node.id]
  launch_template {
    id      = aws_launch_template.node[count.index].id
    version = aws_launch_template.node[count.index].latest_version
  }
  tags = merge(local.tags, { Name = "meridian-${local.label}-node-${count.index + 1}" })
  lifecycle {
    # A new launch template version must not replace a voter behind Raft's back: roll
    # nodes one at a time (meridian cluster leave / join).
    ignore_changes = [launch_template]
  }
}

resource "aws_launch_template" "edge" {
  name_prefix            = "meridian-${local.label}-edge-"
  image_id               = var.ami_id
  instance_type          = var.edge_instance_type
  user_data              = base64encode(local.edge_user_data)
  vpc_security_group_ids = [aws_security_group.edge.id]
  iam_instance_profile {
    arn = aws_iam_instance_profile.edge.arn
  }
  metadata_options {
    http_tokens = "required"
  }
  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = "meridian-${local.label}-edge", "meridian:role" = "edge" })
  }
}

resource "aws_autoscaling_group" "edge" {
  name_prefix         = "meridian-${local.label}-edge-"
  min_size            = var.edge_count
  max_size            = var.edge_count * 2
  desired_capacity    = var.edge_count
  vpc_zone_identifier = aws_subnet.public[*].id
  target_group_arns   = [aws_lb_target_group.edge.arn]
  health_check_type   = "ELB"
  launch_template {
    id      = aws_launch_template.edge.id
    version = aws_launch_template.edge.latest_version
  }
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }
}

resource "aws_launch_template" "nav" {
  count                  = 2
  name_prefix            = "meridian-${local.label}-nav-${count.index}-"
  image_id               = var.ami_id
  instance_type          = var.nav_instance_type
  user_data              = base64encode(local.nav_user_data[count.index])
  vpc_security_group_ids = [aws_security_group.nav.id]
  metadata_options {
    http_tokens = "required"
  }
  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = "meridian-${local.label}-nav-${count.index}", "meridian:role" = "nav" })
  }
}

# Primary and backup nav in different zones (NAV-03), each at a stable public address.
resource "aws_instance" "nav" {
  count     = 2
  subnet_id = aws_subnet.public[count.index % length(local.zones)].id
  launch_template {
    id      = aws_launch_template.nav[count.index].id
    version = aws_launch_template.nav[count.index].latest_version
  }
  tags = merge(local.tags, { Name = "meridian-${local.label}-nav-${count.index}" })
}

resource "aws_eip" "nav" {
  count    = 2
  domain   = "vpc"
  instance = aws_instance.nav[count.index].id
  tags     = local.tags
}
