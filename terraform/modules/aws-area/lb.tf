# The load balancer terminates TLS for client sessions (wss://) and the Server API
# (https://) and spreads them over the edges.
resource "aws_lb" "edge" {
  name_prefix        = "mrd-"
  load_balancer_type = "network"
  subnets            = aws_subnet.public[*].id
  tags               = local.tags
}

resource "aws_lb_target_group" "edge" {
  name_prefix = "mrd-"
  port        = local.public
  protocol    = "TCP"
  vpc_id      = aws_vpc.area.id
  # Sessions are long-lived: give draining edges time to hand clients a reconnect hint.
  deregistration_delay = 120
  health_check {
    protocol = "HTTP"
    port     = tostring(local.admin)
    path     = "/readyz"
  }
  tags = local.tags
}

resource "aws_lb_listener" "edge" {
  load_balancer_arn = aws_lb.edge.arn
  port              = 443
  protocol          = "TLS"
  certificate_arn   = var.certificate_arn
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.edge.arn
  }
}
