// CloudFront Functions (cloudfront-js-2.0), viewer request: a URL naming a folder serves its index.html.
// "/inv/" -> "/inv/index.html"; "/inv" (last segment without a dot) -> "/inv/index.html"; files pass unchanged.
function handler(event) {
    var request = event.request;
    var uri = request.uri;
    if (uri.endsWith('/')) {
        request.uri = uri + 'index.html';
    } else if (uri.split('/').pop().indexOf('.') === -1) {
        request.uri = uri + '/index.html';
    }
    return request;
}
