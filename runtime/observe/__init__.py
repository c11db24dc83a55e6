"""What the running system observes about itself: the AWS calls each principal makes (`calls`)."""
