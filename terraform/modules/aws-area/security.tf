resource "aws_security_group" "node" {
  name_prefix = "meridian-${local.label}-node-"
  description = "Meridian cluster nodes: Raft and the internal API inside the VPC"
  vpc_id      = aws_vpc.area.id
  tags        = local.tags

  ingress {
    description = "Raft and the internal API (nodes, edges, navs)"
    from_port   = local.rpc
    to_port     = local.rpc
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }
  ingress {
    description = "metrics and the operator admin API"
    from_port   = local.admin
    to_port     = local.admin
    protocol    = "tcp"
    cidr_blocks = concat([var.vpc_cidr], var.admin_cidrs)
  }
  egress {
    description = "peers, callbacks to app servers, push providers"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "edge" {
  name_prefix = "meridian-${local.label}-edge-"
  description = "Meridian edges: client sessions and the Server API from the load balancer"
  vpc_id      = aws_vpc.area.id
  tags        = local.tags

  ingress {
    description = "clients and app servers, through the load balancer"
    from_port   = local.public
    to_port     = local.public
    protocol    = "tcp"
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
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "nav" {
  name_prefix = "meridian-${local.label}-nav-"
  description = "Meridian navs: navigation requests from anywhere"
  vpc_id      = aws_vpc.area.id
  tags        = local.tags

  ingress {
    description = "navigation (and its /metrics)"
    from_port   = local.nav
    to_port     = local.nav
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
