# One Meridian area on AWS: a VPC, an odd number of cluster nodes (Raft voters) on fixed
# private addresses, edges in an autoscaling group behind a TLS load balancer, a primary
# and a backup nav, a media server (media.tf), and the DNS names clients and app servers
# use.

locals {
  label  = lower(var.area)
  fqdn   = "${local.label}.${var.domain}"
  zones  = var.availability_zones
  tags   = merge(var.tags, { "meridian:area" = var.area })
  rpc    = 7100
  admin  = 7200
  public = 8080
  nav    = 80
  # The media server's WHIP/WHEP (TCP, also ICE-TCP) and media (UDP) port.
  media     = 8443
  media_dns = "media.${local.fqdn}"
  api_dns   = "api.${local.fqdn}"
  edge_dns  = "edge.${local.fqdn}"
  edge_srv  = "_meridian-edge._tcp.${local.fqdn}"
  nav_dns   = ["nav.${local.fqdn}", "nav-backup.${local.fqdn}"]

  public_subnets  = [for i, _ in local.zones : cidrsubnet(var.vpc_cidr, 4, i)]
  private_subnets = [for i, _ in local.zones : cidrsubnet(var.vpc_cidr, 4, 8 + i)]
  # Raft membership records node addresses: each node keeps the same private IP for life.
  nodes = [for i in range(var.node_count) : {
    id   = i + 1
    zone = i % length(local.zones)
    ip   = cidrhost(local.private_subnets[i % length(local.zones)], 10 + i)
  }]
  peers = [for n in local.nodes : { id = n.id, addr = "${n.ip}:${local.rpc}" }]
  # Instance roles (edges, the media server) are taken on by EC2.
  ec2_assume_role = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_vpc" "area" {
  cidr_block           = var.vpc_cidr
  enable_dns_hostnames = true
  tags                 = merge(local.tags, { Name = "meridian-${local.label}" })
}

resource "aws_internet_gateway" "area" {
  vpc_id = aws_vpc.area.id
  tags   = local.tags
}

resource "aws_subnet" "public" {
  count                   = length(local.zones)
  vpc_id                  = aws_vpc.area.id
  cidr_block              = local.public_subnets[count.index]
  availability_zone       = local.zones[count.index]
  map_public_ip_on_launch = true
  tags                    = merge(local.tags, { Name = "meridian-${local.label}-public-${count.index}" })
}

resource "aws_subnet" "private" {
  count             = length(local.zones)
  vpc_id            = aws_vpc.area.id
  cidr_block        = local.private_subnets[count.index]
  availability_zone = local.zones[count.index]
  tags              = merge(local.tags, { Name = "meridian-${local.label}-private-${count.index}" })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.area.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.area.id
  }
  tags = local.tags
}

resource "aws_route_table_association" "public" {
  count          = length(local.zones)
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# Nodes download Meridian at boot and call app servers and push providers (callbacks).
resource "aws_eip" "nat" {
  domain = "vpc"
  tags   = local.tags
}

resource "aws_nat_gateway" "area" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public[0].id
  tags          = local.tags
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.area.id
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.area.id
  }
  tags = local.tags
}

resource "aws_route_table_association" "private" {
  count          = length(local.zones)
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}
