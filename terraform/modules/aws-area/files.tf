# The area's file service store (FILE-02): one S3 bucket in the area's own region, so an
# app's photos, voice and files stay in its home area like its messages (NAV-05). Only
# the area's edges reach it, through their instance role.

locals {
  # The region is the zones' (e.g. ap-southeast-1a → ap-southeast-1): the bucket lives
  # where the area runs, whatever the provider's default.
  region       = regex("^(.*[0-9])[a-z]$", local.zones[0])[0]
  files_bucket = coalesce(var.files_bucket, "meridian-${local.label}-files-${replace(var.domain, ".", "-")}")
}

resource "aws_s3_bucket" "files" {
  bucket = local.files_bucket
  tags   = local.tags
}

resource "aws_s3_bucket_public_access_block" "files" {
  bucket                  = aws_s3_bucket.files.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "files" {
  bucket = aws_s3_bucket.files.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "files" {
  bucket = aws_s3_bucket.files.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "files" {
  bucket = aws_s3_bucket.files.id
  rule {
    # An upload the edge could not abort (it died mid-way) leaves parts behind.
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# Objects are only ever read and written over TLS.
resource "aws_s3_bucket_policy" "files" {
  bucket = aws_s3_bucket.files.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "TlsOnly"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.files.arn, "${aws_s3_bucket.files.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
}

resource "aws_iam_role" "edge" {
  name_prefix        = "meridian-${local.label}-edge-"
  tags               = local.tags
  assume_role_policy = local.ec2_assume_role
}

# Edges keep uploads there, the media server its recordings (RTC-07).
resource "aws_iam_policy" "files" {
  name_prefix = "meridian-${local.label}-files-"
  tags        = local.tags
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
        Resource = "${aws_s3_bucket.files.arn}/*"
      },
      {
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = aws_s3_bucket.files.arn
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "edge_files" {
  role       = aws_iam_role.edge.name
  policy_arn = aws_iam_policy.files.arn
}

resource "aws_iam_instance_profile" "edge" {
  name_prefix = "meridian-${local.label}-edge-"
  role        = aws_iam_role.edge.name
  tags        = local.tags
}
