# The area's media server (RTC-05..09): one per area, since a mix or recording order is
# carried out by the media server of its area and several would each carry it out.
# Browsers reach WHIP/WHEP through the load balancer's TLS listener at
# https://media.<area>.<domain>:8443 (a web app on https may only fetch https); media
# flows straight to the server's Elastic IP, the address its ICE candidates advertise:
# UDP, or ICE-TCP on the same port where a network blocks UDP. Recordings go to the
# area's bucket.

resource "aws_eip" "media" {
  domain = "vpc"
  tags   = merge(local.tags, { Name = "meridian-${local.label}-media" })
}

resource "aws_security_group" "media" {
  name_prefix = "meridian-${local.label}-media-"
  description = "Meridian media server: WHIP/WHEP, ICE-TCP and media from anywhere"
  vpc_id      = aws_vpc.area.id
  tags        = local.tags

  ingress {
    description = "WHIP/WHEP (through the load balancer) and ICE-TCP"
    from_port   = local.media
    to_port     = local.media
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    description = "media (RTP, RTCP, STUN, DTLS)"
    from_port   = local.media
    to_port     = local.media
    protocol    = "udp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    description = "metrics"
    from_port   = local.admin
    to_port     = local.admin
    protocol    = "tcp"
    cidr_blocks = concat([var.vpc_cidr], var.admin_cidrs)
  }
  egress {
    description = "the cluster, the bucket, CDN pushes (RTMP)"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_iam_role" "media" {
  name_prefix        = "meridian-${local.label}-media-"
  tags               = local.tags
  assume_role_policy = local.ec2_assume_role
}

resource "aws_iam_role_policy_attachment" "media_files" {
  role       = aws_iam_role.media.name
  policy_arn = aws_iam_policy.files.arn
}

resource "aws_iam_instance_profile" "media" {
  name_prefix = "meridian-${local.label}-media-"
  role        = aws_iam_role.media.name
  tags        = local.tags
}

resource "aws_launch_template" "media" {
  name_prefix            = "meridian-${local.label}-media-"
  image_id               = var.ami_id
  instance_type          = var.media_instance_type
  vpc_security_group_ids = [aws_security_group.media.id]
  user_data = base64encode(templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    role       = "media"
    command    = "media"
    binary_url = var.meridian_binary_url
    config = templatefile("${path.module}/templates/media.toml.tftpl", {
      area          = var.area
      peers         = local.peers
      port          = local.media
      admin         = local.admin
      advertised_ip = aws_eip.media.public_ip
      bucket        = local.files_bucket
      region        = local.region
    })
  }))
  iam_instance_profile {
    arn = aws_iam_instance_profile.media.arn
  }
  metadata_options {
    http_tokens = "required"
  }
  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = "meridian-${local.label}-media", "meridian:role" = "media" })
  }
}

resource "aws_instance" "media" {
  subnet_id = aws_subnet.public[0].id
  launch_template {
    id      = aws_launch_template.media.id
    version = aws_launch_template.media.latest_version
  }
  tags = merge(local.tags, { Name = "meridian-${local.label}-media" })
}

resource "aws_eip_association" "media" {
  allocation_id = aws_eip.media.id
  instance_id   = aws_instance.media.id
}

resource "aws_lb_target_group" "media" {
  name_prefix = "mrdm-"
  port        = local.media
  protocol    = "TCP"
  vpc_id      = aws_vpc.area.id
  health_check {
    protocol = "HTTP"
    port     = tostring(local.admin)
    path     = "/readyz"
  }
  tags = local.tags
}

resource "aws_lb_target_group_attachment" "media" {
  target_group_arn = aws_lb_target_group.media.arn
  target_id        = aws_instance.media.id
}

resource "aws_lb_listener" "media" {
  load_balancer_arn = aws_lb.edge.arn
  port              = local.media
  protocol          = "TLS"
  certificate_arn   = var.certificate_arn
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.media.arn
  }
}

resource "aws_route53_record" "media" {
  zone_id = var.route53_zone_id
  name    = local.media_dns
  type    = "A"
  alias {
    name                   = aws_lb.edge.dns_name
    zone_id                = aws_lb.edge.zone_id
    evaluate_target_health = true
  }
}
