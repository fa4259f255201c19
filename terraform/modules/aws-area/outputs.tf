output "area" {
  value = var.area
}

output "api_url" {
  description = "The area's Server API (app servers set this as their base URL)."
  value       = "https://${local.api_dns}"
}

output "nav_urls" {
  description = "Primary and backup nav."
  value       = [for host in local.nav_dns : "http://${host}"]
}

output "edge_srv" {
  description = "The SRV name navs discover edges by."
  value       = local.edge_srv
}

output "cluster_rpc" {
  description = "The cluster nodes' internal addresses (Raft peers)."
  value       = [for peer in local.peers : peer.addr]
}

output "admin_urls" {
  description = "Operator admin API on each cluster node (inside the VPC)."
  value       = [for n in local.nodes : "http://${n.ip}:${local.admin}"]
}

output "files_bucket" {
  description = "The S3 bucket holding the area's uploaded files (in the area's region)."
  value       = aws_s3_bucket.files.bucket
}

output "media_url" {
  description = "The area's media server (WHIP/WHEP); edges hand it to clients in rtcJoined."
  value       = "https://${local.media_dns}:${local.media}"
}

output "media_ip" {
  description = "The address the media server's ICE candidates advertise (UDP and TCP)."
  value       = aws_eip.media.public_ip
}
